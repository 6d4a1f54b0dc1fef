"""Exceptions that carry the exit code and a one-line message for the user.

The CLI catches :class:`FormreaderError` and prints ``str(err)``; anything else is a bug and is
allowed to show a traceback. Each message names the file or key at fault and, where it helps,
what to do next.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    SOME_FAILED = 1  # a batch ran but at least one page could not be read
    USAGE = 2  # bad arguments, bad config, missing model, an output that is an input: nothing read
    OUTPUT = 3  # an output could not be written
    INTERNAL = 70  # a bug (EX_SOFTWARE): one line, the traceback with --verbose
    INTERRUPTED = 130  # Ctrl-C or SIGTERM
    BROKEN_PIPE = 141  # stdout closed by its reader (`| head`): 128 + SIGPIPE, as a shell reports it


class FormreaderError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    exit_code: ExitCode = ExitCode.USAGE


class InputError(FormreaderError):
    """An input file is missing, unreadable, not an image, or absurd."""

    exit_code = ExitCode.SOME_FAILED


class DataError(FormreaderError):
    """Training/evaluation data (MNIST IDX files) is missing or corrupt."""


class ModelError(FormreaderError):
    """The model file is missing, unreadable or of the wrong shape."""


class ConfigError(FormreaderError):
    """A pipeline YAML file is invalid; the message names the key."""


class OutputError(FormreaderError):
    """A result file, overlay or review page could not be written (disk full, no permission)."""

    exit_code = ExitCode.OUTPUT
