"""Inputs and results named by URL (``s3://bucket/scans/*.png``, ``gs://``, ``az://``,
``memory://``): listed, fetched and written through fsspec, so that a batch on a cluster reads
from and writes to object storage.

Only the listing and the bytes go through fsspec; each file is fetched to a temporary local
file named like it (the decoders choose by suffix) and read as any other. fsspec and the
backend for the scheme (``s3fs``, ``gcsfs``, ``adlfs``) are optional: without them the error
says what to install. ``file://`` URLs and plain paths are local files.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from formreader.errors import InputError

INSTALL_HINT = "pip install fsspec (and the backend for the scheme, e.g. s3fs)"


def is_url(text: str | os.PathLike[str]) -> bool:
    """Whether an input names a remote file (``scheme://...``, not ``file://``)."""
    s = os.fspath(text)
    scheme, sep, _ = s.partition("://")
    return bool(sep) and scheme.isidentifier() and scheme != "file"


def _fsspec(url: str):  # noqa: ANN202 - fsspec's types are its own
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{url}: reading URLs needs fsspec: {INSTALL_HINT}") from None
    return fsspec


def expand_url(pattern: str) -> list[str]:
    """The URLs a pattern names (globs expanded), sorted; [] when nothing matches."""
    fsspec = _fsspec(pattern)
    try:
        fs, _, paths = fsspec.get_fs_token_paths(pattern)
    except (ImportError, ValueError) as exc:
        raise InputError(f"{pattern}: cannot list ({exc}); {INSTALL_HINT}") from None
    return sorted(fs.unstrip_protocol(p) for p in paths if fs.isfile(p))


@contextmanager
def local_copy(url: str) -> Iterator[Path]:
    """The remote file's bytes in a temporary local file with the same name, removed after."""
    fsspec = _fsspec(url)
    name = PurePosixPath(url.split("://", 1)[1]).name or "input"
    with tempfile.TemporaryDirectory(prefix="formreader-") as folder:
        target = Path(folder) / name
        try:
            with fsspec.open(url, "rb") as src:
                target.write_bytes(src.read())
        except FileNotFoundError:
            raise InputError(f"{url}: file not found") from None
        except (OSError, ValueError, ImportError) as exc:
            raise InputError(f"{url}: cannot fetch ({type(exc).__name__}: {exc})") from None
        yield target


def upload(local: Path, url: str) -> None:
    """Put a finished local file at ``url`` (an OutputError, exit 3, if it cannot be written)."""
    from formreader.errors import OutputError

    try:
        fsspec = _fsspec(url)
    except InputError as exc:
        raise OutputError(str(exc)) from None
    try:
        with fsspec.open(url, "wb") as out:
            out.write(local.read_bytes())
    except (OSError, ValueError, ImportError) as exc:
        raise OutputError(f"{url}: cannot write ({type(exc).__name__}: {exc})") from None
