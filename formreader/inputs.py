"""The files a batch reads: command-line paths, directories and globs expanded, in a fixed order.

Kept apart from :mod:`formreader.io` (which decodes pages) and free of numpy: the batch parent
only lists files and hands them to its workers, and importing numpy there cost about 0.15 s
before the first worker could start (benchmarks/bench_scan.py).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

PAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pdf"})


def find_inputs(patterns: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """Expand CLI arguments (files, directories, globs) into an ordered list of input files.

    Returns the files and one warning line per argument that matched nothing. A path that does
    not exist and has no glob characters is kept: reading it reports "file not found" for that
    input like any other unreadable file, instead of silently shrinking the batch.
    Directories contribute their page files (by suffix, not recursive), sorted by name; glob
    matches are sorted too, so a batch's order never depends on the file system. Duplicates
    (the same path named twice) are read once, at their first position.
    """
    files: list[Path] = []
    warnings_: list[str] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.normpath(str(p))
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in patterns:
        text = os.fspath(raw)
        path = Path(text)
        if path.is_dir():
            found = _page_files_in(path)
            if not found:
                warnings_.append(f"{text}: directory has no image or PDF files")
            for p in found:
                add(p)
        elif path.exists() or not glob.has_magic(text):
            add(path)
        else:
            matches = sorted(glob.glob(text, recursive=True))
            hits = 0
            for m in matches:
                mp = Path(m)
                if mp.is_dir():
                    inner = _page_files_in(mp)
                    hits += len(inner)
                    for p in inner:
                        add(p)
                else:
                    hits += 1
                    add(mp)
            if not hits:
                warnings_.append(f"{text}: no files match")
    return files, warnings_


def _page_files_in(directory: Path) -> list[Path]:
    return sorted(
        (p for p in directory.iterdir() if p.suffix.lower() in PAGE_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )
