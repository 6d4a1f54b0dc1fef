"""Run a validated pipeline: inputs -> pages -> named fields -> validation -> outputs.

The pipeline configures the one batch driver (:mod:`formreader.driver.files`) that ``scan``
and the API use too; this module adds what only a pipeline has: its outputs and review page.

Configuration was checked completely by :mod:`formreader.config` before this runs, so the only
errors left are about pages (unreadable file, odd page), which become that page's ``error`` and
let the batch go on, and about writing outputs, which stop it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from formreader.config import LoadedPipeline
from formreader.errors import OutputError
from formreader.output.review import ReviewItem, render
from formreader.results import PageResult

if TYPE_CHECKING:  # pragma: no cover
    from formreader.driver.files import ReadJob
    from formreader.output.writers import PageWriter
    from formreader.recognizer.model import Recognizer


@dataclass
class RunSummary:
    pages: int = 0
    failed: int = 0
    fields: int = 0
    review: int = 0
    written: list[Path | str] = field(default_factory=list)  # a URL as a string
    interrupted: bool = False  # Ctrl-C / SIGTERM: the outputs hold the pages read until then


def display_path(path: Path | str) -> str:
    """A source as the user would type it: relative to the working directory when below it;
    a URL as written."""
    if isinstance(path, str):
        return path
    try:
        return os.fspath(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.fspath(path)


def check_outputs(pipeline: LoadedPipeline, force: bool = False) -> None:
    """Refuse, before anything is read, outputs that are inputs, the pipeline or its model, and
    overlay PNGs already there (unless ``force``): a usage error naming the key."""
    from formreader.output.clobber import check_outputs as check
    from formreader.output.clobber import check_overlay_dir
    from formreader.output.report import overlay_stems

    p = pipeline
    check([("outputs.csv", p.csv), ("outputs.json", p.json), ("outputs.review", p.review)], p.files,
          [("pipeline", p.source)] + ([("model", p.model)] if p.model else []))
    check_overlay_dir(p.overlays, overlay_stems(p.files), force, "outputs.overlays")


def _make_parent(target: Path | str) -> None:
    if isinstance(target, Path):  # a URL's "folders" need no creating
        target.parent.mkdir(parents=True, exist_ok=True)


def run(pipeline: LoadedPipeline, recognizer: Recognizer | None = None,
        on_page: Callable[[PageResult], None] | None = None,
        to_stdout: bool = False, workers: int = 1,
        on_file: Callable[[list[PageResult]], None] | None = None,
        scheduler: str | None = None) -> tuple[list[PageResult], RunSummary]:
    """Run the pipeline through the batch driver (:func:`formreader.driver.files.read_files`)
    and write its outputs (each atomically, when the batch is done).

    ``workers > 1`` reads files in that many processes; the outputs are the same bytes as with
    one; ``scheduler`` (``local:N``, a Dask address) reads them on a Dask cluster. ``on_page`` sees every page's result, ``on_file`` each file's pages, as they finish.
    ``to_stdout``: a pipeline without outputs writes its JSON to stdout (the CLI's choice; the
    API returns the results anyway).
    """
    from formreader.driver.files import read_files

    summary = RunSummary()
    results: list[PageResult] = []
    review_items: list[ReviewItem] = []
    job = _job(pipeline)
    model = recognizer if recognizer is not None else pipeline.model
    with ExitStack() as stack:
        writers = _open_writers(pipeline, stack, to_stdout)
        sources = [display_path(p) for p in pipeline.files]
        try:
            for done in read_files(pipeline.files, job, model, workers=workers, sources=sources,
                                   scheduler=scheduler):
                for result in done.pages:
                    results.append(result)
                    summary.pages += 1
                    summary.failed += 0 if result.ok else 1
                    summary.fields += len(result.fields)
                    for w, _ in writers:
                        w.write(result)
                    if on_page is not None:
                        on_page(result)
                review_items.extend(done.review)
                summary.written.extend(Path(p) for p in done.overlays)
                if on_file is not None:
                    on_file(done.pages)
        except KeyboardInterrupt:  # Ctrl-C / SIGTERM: what was read is written, and said so
            summary.interrupted = True
        for w, path in writers:
            w.finish()
            if path is not None:
                summary.written.append(path)
    summary.review = len(review_items)
    if pipeline.review is not None:
        _write_review(pipeline, review_items)
        summary.written.append(pipeline.review)
    return results, summary


def _job(pipeline: LoadedPipeline) -> ReadJob:
    """What the batch driver does per page for this pipeline (its overlay folder made here)."""
    from formreader.driver.files import ReadJob

    if pipeline.overlays is not None:
        try:
            pipeline.overlays.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"outputs.overlays: {pipeline.overlays}: cannot create ({exc.strerror})") from None
    return ReadJob(pipeline.spec.scan_options(), pipeline.spec,
                   overlay_dir=None if pipeline.overlays is None else os.fspath(pipeline.overlays),
                   review_crops=pipeline.review is not None)


def _open_writers(pipeline: LoadedPipeline, stack: ExitStack, to_stdout: bool) -> list[tuple[PageWriter, Path | str | None]]:
    """The CSV and JSON writers, each on its output (closed by ``stack``), or JSON on stdout for
    a pipeline without outputs when ``to_stdout``."""
    from formreader.output.writers import make_writer, open_output

    writers: list[tuple[PageWriter, Path | str | None]] = []
    for path, fmt in ((pipeline.csv, "csv"), (pipeline.json, "json")):
        if path is not None:
            _make_parent(path)
            writers.append((make_writer(fmt, stack.enter_context(open_output(path))), path))  # type: ignore[arg-type]
    if not any((pipeline.csv, pipeline.json, pipeline.overlays, pipeline.review)) and to_stdout:
        writers.append((make_writer("json", sys.stdout), None))  # no outputs: results on stdout
    return writers


def _write_review(pipeline: LoadedPipeline, items: list[ReviewItem]) -> None:
    """review.html: every field to check, with its crop, reading and reason."""
    from formreader.output.writers import open_output

    assert pipeline.review is not None
    _make_parent(pipeline.review)
    title = f"formreader review: {pipeline.spec.name or pipeline.source.stem}"
    with open_output(pipeline.review) as fh:
        fh.write(render(items, title))
