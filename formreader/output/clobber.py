"""Never overwrite what the user had: every output path checked against the inputs first.

A batch reads the user's scans and writes results beside them. A slip of the keyboard
(``formreader scan a.jpg b.jpg -o a.jpg``), a pipeline whose ``outputs.csv`` names an input or
the YAML itself, an overlay folder that is the scan folder: each would replace a file the user
cannot get back. So before anything is read, every output is compared with every input and
protected file by real path (symlinks and ``..`` resolved, so another spelling of the same file
is caught), and a clash stops the run with a usage error naming both; nothing is written.

Overlay PNGs are named ``<stem>-p<page>.png``; a folder that already holds such a file for one
of the batch's inputs is refused unless ``force`` (it may be last run's overlays, or a scan).

This runs in the batch parent before the workers start, so it imports nothing heavy.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from formreader.errors import FormreaderError


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.fspath(path))


def is_special(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is an existing device, FIFO or socket (``/dev/stdout``, a named pipe):
    written to in place, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_outputs(outputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
                  inputs: Sequence[str | os.PathLike[str]],
                  protected: Iterable[tuple[str, str | os.PathLike[str]]] = ()) -> None:
    """Raise a usage error (exit 2) if an output is an input or a protected file, or two
    outputs are one file.

    ``outputs``: (what the user calls it, e.g. ``-o`` or ``outputs.csv``; its path or None).
    ``protected``: (what it is, e.g. ``the pipeline``; its path): files that are not inputs
    but must not be written either. Special files (``/dev/stdout``, FIFOs) are never a clash:
    they are written to, not replaced.
    """
    taken: dict[str, str] = {}
    for path in inputs:
        taken.setdefault(_real(path), f"input {os.fspath(path)}")
    for name, path in protected:
        taken.setdefault(_real(path), f"{name} {os.fspath(path)}")
    for name, path in outputs:
        if path is None or os.fspath(path) == "-" or is_special(path):
            continue
        real = _real(path)
        if real in taken:
            raise FormreaderError(f"{name} {os.fspath(path)}: is the same file as the {taken[real]}; "
                                  "choose another output (nothing was written)")
        taken[real] = f"output {name} {os.fspath(path)}"


_OVERLAY = re.compile(r"^(?P<stem>.*)-p[0-9]+\.png$")


def check_overlay_dir(directory: str | os.PathLike[str] | None, stems: Sequence[str], force: bool = False,
                      name: str = "--overlay") -> None:
    """Raise a usage error if ``directory`` already holds an overlay name the batch would
    write (``<stem>-p<page>.png`` for one of ``stems``), unless ``force``."""
    if directory is None or force:
        return
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return  # not there yet: created empty
    wanted = set(stems)
    for entry in entries:
        m = _OVERLAY.match(entry)
        if m and m.group("stem") in wanted:
            raise FormreaderError(f"{name} {os.fspath(directory)}: already holds {entry}, which this run would "
                                  "overwrite; choose an empty folder or pass --force (nothing was written)")


def write_target(path: str | os.PathLike[str]) -> Path:
    """Where an output named ``path`` is really written: through a symlink to its target (the
    link stays), and special files as they are (:func:`is_special`)."""
    p = Path(path)
    return Path(_real(p)) if p.is_symlink() else p

