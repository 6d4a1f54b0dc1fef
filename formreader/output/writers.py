"""Streaming JSON/CSV writers for page results, and atomic output files.

Results are written as they arrive, so a 10,000-page batch never holds its output in memory;
the output file only appears (atomically, by rename) once the batch has finished or been
interrupted (then holding the pages read so far, as a complete document), so a crash never
leaves a truncated JSON that a downstream job would take for a complete one.
Output is a pure function of the results: same results, same bytes.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal, Protocol, TextIO

from formreader.errors import FormreaderError, OutputError
from formreader.results import CSV_COLUMNS, PageResult

Format = Literal["json", "csv"]
FORMATS: tuple[Format, ...] = ("json", "csv")


class PageWriter(Protocol):
    def write(self, page: PageResult) -> None: ...

    def finish(self) -> None: ...


class JsonWriter:
    """``{"pages": [...]}`` with one page object per line: valid JSON, streamable, diffable."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.count = 0

    def write(self, page: PageResult) -> None:
        # Nothing is written before the first page: a run that dies before reading anything
        # (no model, say) leaves stdout empty rather than holding half a JSON document.
        text = json.dumps(page.to_dict(), ensure_ascii=True, allow_nan=False)
        self.stream.write((',\n' if self.count else '{"pages": [\n') + text)
        self.count += 1
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n]}\n" if self.count else '{"pages": []}\n')
        self.stream.flush()


# A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """A text cell a spreadsheet shows as text: one starting like a formula gets a leading
    ``'`` (a file named ``=HYPERLINK(...).png``, a text of ``-``); a name that is not valid
    UTF-8 keeps its bytes as ``\\xNN`` escapes instead of breaking the file."""
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in cell):  # surrogate-escaped bytes of a file name
        cell = cell.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


class CsvWriter:
    """One row per field (``results.CSV_COLUMNS``).

    A page that could not be read gets one row with status ``error`` and the message in the
    ``value`` column, so a clerk working from the CSV alone still sees that a page is missing.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._csv = csv.writer(stream, lineterminator="\n")
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self._csv.writerow(CSV_COLUMNS)
            self._started = True

    def write(self, page: PageResult) -> None:
        self._start()
        if page.error is not None:
            self._row([page.source, page.page, "", page.error, "", "error", "", "", "", "", "", "", page.error])
        for fld in page.fields:
            self._row(fld.csv_row(page.source, page.page, page.layout or ""))
        self.stream.flush()

    def _row(self, cells: list[object]) -> None:
        self._csv.writerow([spreadsheet_safe(c) if isinstance(c, str) else c for c in cells])

    def finish(self) -> None:
        self._start()
        self.stream.flush()


def make_writer(fmt: Format, stream: TextIO) -> PageWriter:
    if fmt == "json":
        return JsonWriter(stream)
    if fmt == "csv":
        return CsvWriter(stream)
    raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")


def format_for(path: str | os.PathLike[str] | None, fmt: str | None = None) -> Format:
    """The explicit format, else the one ``-o``'s suffix names, else JSON."""
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt  # type: ignore[return-value]
    if path is not None and Path(path).suffix.lower() == ".csv":
        return "csv"
    return "json"


@contextmanager
def atomic_write(path: str | os.PathLike[str], binary: bool = False) -> Iterator[IO]:
    """A file handle whose content replaces ``path`` only if the block completes.

    The temp file sits in the destination directory (``os.replace`` is atomic only within one
    file system) and is removed on any failure, Ctrl-C included. A device or FIFO (``-o
    /dev/stdout``) is written in place; a symlink keeps pointing where it did.
    """
    from formreader.output.clobber import is_special, write_target

    if is_special(path):  # /dev/stdout, a FIFO: written to in place, never replaced
        try:
            with open(path, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
                yield fh
        except OSError as exc:
            raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
        return
    path = write_target(path)  # through a symlink: the link is kept, its target replaced
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                                   prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
    try:
        if binary:
            fh: IO = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a result file is not a secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def open_output(path: str | os.PathLike[str] | None) -> Iterator[TextIO]:
    """``path`` written atomically, or stdout (left open) when path is None or "-". A URL
    (``s3://bucket/results.csv``) is written locally and uploaded whole through fsspec at the
    end, so the object appears complete or not at all."""
    if path is None or os.fspath(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    from formreader.io.remote import is_url, upload

    if is_url(path):
        with tempfile.TemporaryDirectory(prefix="formreader-") as folder:
            local = Path(folder) / Path(os.fspath(path)).name
            with atomic_write(local) as fh:
                yield fh  # type: ignore[misc]
            upload(local, os.fspath(path))
        return
    with atomic_write(path) as fh:
        yield fh  # type: ignore[misc]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
