"""Run a validated pipeline: inputs -> pages -> named fields -> validation -> outputs.

Configuration was checked completely by :mod:`formreader.config` before this runs, so the only
errors left are about pages (unreadable file, odd page), which become that page's ``error`` and
let the batch go on, and about writing outputs, which stop it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from formreader.config import LoadedPipeline
from formreader.errors import FormreaderError, InputError, OutputError
from formreader.io.pages import iter_pages
from formreader.output.review import ReviewItem, crop_png, render
from formreader.recognizer.model import Recognizer, load_model
from formreader.results import PageResult
from formreader.rules.validate import apply_rules


@dataclass
class RunSummary:
    pages: int = 0
    failed: int = 0
    fields: int = 0
    review: int = 0
    written: list[Path] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C / SIGTERM: the outputs hold the pages read until then


def display_path(path: Path) -> str:
    """A source as the user would type it: relative to the working directory when below it."""
    try:
        return os.fspath(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return os.fspath(path)


def process_page(gray: np.ndarray, recognizer: Recognizer, pipeline: LoadedPipeline, source: str,
                 number: int) -> PageResult:
    """One page: named fields, each checked against its rules."""
    from formreader.imaging.layout import choose_layout
    from formreader.reading.zones import read_named

    spec = pipeline.spec
    height, width = gray.shape
    layout = choose_layout(gray.shape, spec.scan_options().field_mode)
    found = read_named(gray, recognizer, spec, layout=layout)
    if spec.fields:
        found = [apply_rules(f, rules) for f, rules in zip(found, spec.fields)]
    return PageResult(source, number, width, height, found, layout=layout)


def iter_results(pipeline: LoadedPipeline, recognizer: Recognizer) -> Iterator[tuple[PageResult, np.ndarray | None]]:
    """Every page of every input with its pixels (None for a page that could not be decoded)."""
    dpi = pipeline.spec.cleaning.dpi
    for path in pipeline.files:
        source = display_path(path)
        number = 1
        try:
            for image in iter_pages(path, dpi):
                number = image.number
                if image.error is not None or image.gray is None:
                    yield PageResult(source, number, error=str(image.error)), None
                    continue
                try:
                    result = process_page(image.gray, recognizer, pipeline, source, number)
                except InputError as exc:
                    result = PageResult(source, number, image.gray.shape[1], image.gray.shape[0], error=str(exc))
                yield result, image.gray
        except InputError as exc:
            yield PageResult(source, number, error=str(exc)), None


def run(pipeline: LoadedPipeline, recognizer: Recognizer | None = None,
        on_page: Callable[[PageResult], None] | None = None,
        to_stdout: bool = False) -> tuple[list[PageResult], RunSummary]:
    """Run the pipeline and write its outputs (each atomically, when the batch is done).

    ``to_stdout``: a pipeline without outputs writes its JSON to stdout (the CLI's choice; the
    API returns the results anyway).
    """
    from formreader.output.report import draw_overlay, overlay_name, overlay_stems, write_overlay
    from formreader.output.writers import atomic_write, make_writer

    rec = recognizer or load_model(pipeline.model)
    summary = RunSummary()
    results: list[PageResult] = []
    review_items: list[ReviewItem] = []
    stems = dict(zip(pipeline.files, overlay_stems(pipeline.files)))
    if pipeline.overlays is not None:
        try:
            pipeline.overlays.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"outputs.overlays: {pipeline.overlays}: cannot create ({exc.strerror})") from None
    with ExitStack() as stack:
        writers = []
        for path, fmt in ((pipeline.csv, "csv"), (pipeline.json, "json")):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                writers.append((make_writer(fmt, stack.enter_context(atomic_write(path))), path))  # type: ignore[arg-type]
        if not any((pipeline.csv, pipeline.json, pipeline.overlays, pipeline.review)) and to_stdout:
            writers.append((make_writer("json", sys.stdout), None))  # no outputs: results on stdout
        by_source = {display_path(p): p for p in pipeline.files}
        try:
            for result, gray in iter_results(pipeline, rec):
                results.append(result)
                summary.pages += 1
                summary.failed += 0 if result.ok else 1
                summary.fields += len(result.fields)
                for w, _ in writers:
                    w.write(result)
                if gray is not None:
                    for f in result.fields:
                        if f.status == "review":
                            review_items.append(ReviewItem(result.source, result.page, f, crop_png(gray, f.bbox)))
                    if pipeline.overlays is not None:
                        stem = stems[by_source[result.source]]
                        target = pipeline.overlays / overlay_name(stem, result.page)
                        write_overlay(target, draw_overlay(gray, result, pipeline.spec.threshold))
                        summary.written.append(target)
                if on_page is not None:
                    on_page(result)
        except KeyboardInterrupt:  # Ctrl-C / SIGTERM: what was read is written, and said so
            summary.interrupted = True
        for w, path in writers:
            w.finish()
            if path is not None:
                summary.written.append(path)
    summary.review = len(review_items)
    if pipeline.review is not None:
        pipeline.review.parent.mkdir(parents=True, exist_ok=True)
        title = f"formreader review: {pipeline.spec.name or pipeline.source.stem}"
        with atomic_write(pipeline.review) as fh:
            fh.write(render(review_items, title))
        summary.written.append(pipeline.review)
    return results, summary
