"""The files a batch reads: command-line paths, directories and globs expanded, in a fixed order.

Kept apart from :mod:`formreader.io.pages` (which decodes pages) and free of numpy: the batch parent
only lists files and hands them to its workers, and importing numpy there cost about 0.15 s
before the first worker could start (benchmarks/bench_scan.py).
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable
from pathlib import Path

from formreader.errors import InputError
from formreader.io.remote import expand_url, is_url

PAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pdf"})


def find_inputs(patterns: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """Expand CLI arguments (files, directories, globs) into an ordered list of input files.

    Returns the files and one warning line per argument that matched nothing. A path that does
    not exist and has no glob characters is kept: reading it reports "file not found" for that
    input like any other unreadable file, instead of silently shrinking the batch.
    Directories contribute their page files (by suffix, not recursive), sorted by name; glob
    matches are sorted too, so a batch's order never depends on the file system. Duplicates
    (the same file named twice, by any path) are read once, at their first position. ``**``
    descends into subdirectories, following symlinks but never into a directory twice (a
    ``loop -> ..`` link ends the walk there instead of hanging it). A URL
    (``s3://bucket/scans/*.png``) is listed through fsspec (:mod:`formreader.io.remote`) and
    its files are kept as URL strings.
    """
    files: list[Path] = []
    warnings_: list[str] = []
    seen: set[str] = set()
    for raw in patterns:
        found, warning = _expand(os.fspath(raw))
        if warning:
            warnings_.append(warning)
        for p in found:
            # The same file by another name (a symlink, ``a/../b``) is read once too.
            key = p if isinstance(p, str) else os.path.realpath(p) if p.exists() else os.path.normpath(str(p))
            if key not in seen:
                seen.add(key)
                files.append(p)  # type: ignore[arg-type]
    return files, warnings_


def _expand(text: str) -> tuple[list[Path | str], str | None]:
    """One argument's files (URLs as strings), in order, and a warning when it matched none."""
    if is_url(text):  # object storage: listed through fsspec, kept as URLs
        try:
            urls: list[Path | str] = list(expand_url(text))
        except InputError as exc:
            return [], str(exc)
        return urls, None if urls else f"{text}: no files match"
    path = Path(text)
    if path.is_dir():
        inside: list[Path | str] = list(_page_files_in(path))
        return inside, None if inside else f"{text}: directory has no image or PDF files"
    if path.exists() or not glob.has_magic(text):
        return [path], None
    found: list[Path | str] = []
    for m in sorted(recursive_glob(text) if "**" in text else glob.glob(text)):
        mp = Path(m)
        found.extend(_page_files_in(mp) if mp.is_dir() else [mp])
    return found, None if found else f"{text}: no files match"


def _page_files_in(directory: Path) -> list[Path]:
    return sorted(
        (p for p in directory.iterdir() if p.suffix.lower() in PAGE_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )


def recursive_glob(pattern: str) -> list[str]:
    """``glob.glob(pattern, recursive=True)`` without its hang on symlink cycles: the tree
    below the pattern's fixed prefix is walked once per real directory, and each path is
    matched against the pattern (``**`` any number of directories, ``*``/``?``/``[...]``
    within one name)."""
    parts = pattern.replace(os.sep, "/").split("/")
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    base = "/".join(fixed) or "."
    if pattern.startswith("/") and not fixed[1:]:
        base = "/"
    regex = re.compile(_glob_regex("/".join(parts[len(fixed):])))
    out: list[str] = []
    visited: set[str] = set()
    for root, dirs, names in os.walk(base, followlinks=True):
        real = os.path.realpath(root)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        dirs.sort()
        rel_root = os.path.relpath(root, base).replace(os.sep, "/")
        for name in dirs + names:
            rel = name if rel_root == "." else f"{rel_root}/{name}"
            if regex.fullmatch(rel) and not name.startswith("."):
                out.append(os.path.join(root, name) if base != "." or pattern.startswith("./") else rel)
    return out


def _glob_regex(pattern: str) -> str:
    """A glob pattern (``/``-separated) as a regular expression over relative paths."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:[^/]+/)*"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            j = pattern.find("]", i + 2)
            if j < 0:
                out += re.escape("[")
                i += 1
            else:
                body = pattern[i + 1 : j]
                out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
                i = j + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return out
