"""The one batch driver: files in, each file's pages read and judged, results out in input order.

``formreader scan``, ``formreader run`` and the Python API all read files through
:func:`read_files`. What differs between them is configuration, held in a :class:`ReadJob`:
the scanner's options, the pipeline's named fields and rules when there is one, whether
overlays are drawn and whether review crops are cut. Everything that needs a page's pixels
(reading, overlays, review crops) happens where the pixels are, in the worker, so only results
and small PNG crops travel back to the parent.

One page never sinks the batch: a file that cannot be decoded, or a page the scanner fails on,
becomes a result with ``error`` set, and the batch goes on. Only problems that would make every
page fail the same way (a missing model, a broken configuration) are raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from formreader.errors import FormreaderError, InputError, OutputError
from formreader.results import PageResult, ScanOptions

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from formreader.config import Pipeline
    from formreader.io.pages import PageImage
    from formreader.output.review import ReviewItem
    from formreader.recognizer.model import Recognizer


# Files read as one group. The single-page field images of a group are read together, one
# model call per stage for all of them: a folder of crops reads a quarter faster in groups of
# 16 than one by one, with the same results (benchmarks/bench_fields.py). Other files are read
# one by one as ever.
GROUP = 16


@dataclass(frozen=True)
class ReadJob:
    """How every file of a batch is read; sent to each worker, so it must pickle."""

    options: ScanOptions = ScanOptions()
    spec: Pipeline | None = None  # a pipeline: its named fields, zones and rules
    overlay_dir: str | None = None  # draw an annotated PNG of each page here
    review_crops: bool = False  # cut the pixels of every field in review (for review.html)


class PageRead(NamedTuple):
    """One page read: its result, its fields in review with their pixels, the overlay written."""

    page: PageResult
    review: Sequence = ()
    overlay: str | None = None


@dataclass
class FileResult:
    """One file's pages, in page order, and what was made from their pixels."""

    pages: list[PageResult]
    review: list[ReviewItem] = field(default_factory=list)
    overlays: list[str] = field(default_factory=list)  # overlay PNGs written


def read_page_image(gray: np.ndarray, recognizer: Recognizer, job: ReadJob) -> tuple[str, list]:
    """One page's layout (``field`` or ``page``) and its fields, checked against the pipeline's
    rules when the job has a pipeline with named fields."""
    from formreader.imaging.layout import choose_layout
    from formreader.reading.zones import read_named

    layout = choose_layout(gray, job.options.field_mode)
    return layout, _checked(read_named(gray, recognizer, job.spec, layout=layout, options=job.options), job)


def _checked(fields: list, job: ReadJob) -> list:
    """``fields`` checked against the pipeline's rules when the job has named fields."""
    from formreader.rules.validate import apply_rules

    if job.spec is not None and job.spec.fields:
        return [apply_rules(f, rules) for f, rules in zip(fields, job.spec.fields)]
    return fields


def read_page_upright(gray: np.ndarray, recognizer: Recognizer, job: ReadJob) -> tuple[int, np.ndarray, str, list]:
    """:func:`read_page_image` of the page turned upright (:mod:`formreader.reading.orient`):
    the turn, the page as read, its layout and fields."""
    if not job.options.orient:
        return (0, gray, *read_page_image(gray, recognizer, job))
    from formreader.reading.orient import read_upright

    degrees, page, (layout, fields) = read_upright(gray, lambda g: read_page_image(g, recognizer, job), recognizer)
    return degrees, page, layout, fields


def read_file(path: str | os.PathLike[str], recognizer: Recognizer, job: ReadJob = ReadJob(),
              source: str | None = None, overlay_stem: str | None = None) -> Iterator[PageRead]:
    """Each page of one file as a :class:`PageRead`; every per-page failure becomes
    that page's error. ``source`` is the name results carry (default: the path as given)."""
    from formreader.io.pages import iter_pages
    from formreader.io.remote import is_url, local_copy

    source = source if source is not None else os.fspath(path)
    try:
        with local_copy(os.fspath(path)) if is_url(path) else nullcontext(Path(path)) as local:
            pages = iter_pages(local, job.options.dpi)
            yield from _read_pages(pages, recognizer, job, source, overlay_stem, os.fspath(local))
    except InputError as exc:  # a remote file that could not be fetched
        yield PageRead(PageResult(source, 1, error=str(exc)))


def _read_pages(pages: Iterator, recognizer: Recognizer, job: ReadJob, source: str, overlay_stem: str | None,
                local: str) -> Iterator[PageRead]:
    """:func:`read_file`'s pages; messages name ``source`` where they named the ``local`` copy."""
    from formreader.io.pages import _describe

    def named(text: str) -> str:
        return text.replace(local, source) if local != source else text

    next_number = 1
    try:
        for image in pages:
            number = next_number = image.number
            next_number += 1
            if image.error is not None or image.gray is None:
                yield PageRead(PageResult(source, number, error=named(str(image.error))))
                continue
            gray = image.gray
            height, width = gray.shape
            try:
                degrees, gray, layout, fields = read_page_upright(gray, recognizer, job)
                height, width = gray.shape  # the page as read: upright, its boxes' frame
                result = PageResult(source, number, width, height, list(fields), layout=layout, rotation=degrees)
            except InputError as exc:
                result = PageResult(source, number, width, height, error=named(str(exc)))
            except FormreaderError:
                raise  # model/config problems: every page would fail the same way
            except Exception as exc:  # a scanner bug on one odd page must not sink the batch
                result = PageResult(source, number, width, height,
                                    error=f"{source}: page {number}: could not read page ({_describe(exc)})")
            yield _page_read(gray, result, job, overlay_stem or Path(source).stem)
    except InputError as exc:  # the file as a whole (or all of it from here on) is unusable
        yield PageRead(PageResult(source, next_number, error=named(str(exc))))


def _page_read(gray: np.ndarray, result: PageResult, job: ReadJob, overlay_stem: str) -> PageRead:
    """A page read, with what the job makes from its pixels: review crops, the overlay."""
    review = _review_items(gray, result) if job.review_crops else []
    overlay = None
    if job.overlay_dir is not None:
        overlay = _save_overlay(gray, result, job, overlay_stem)
    return PageRead(result, review, overlay)


def read_files(files: Sequence[str | os.PathLike[str]], job: ReadJob, model: object = None, *, workers: int = 1,
               sources: Sequence[str] | None = None, scheduler: str | None = None) -> Iterator[FileResult]:
    """Every file's :class:`FileResult`, in input order, streaming as files finish.

    ``model``: a loaded Recognizer, a model path, or None for the default. Runs of field
    images are read together (:func:`read_group`). ``workers > 1`` reads groups of files
    (:func:`_groups`) in that many spawned processes (each loads the model once); at most
    ``2 * workers`` groups are in flight, so memory stays flat however long the batch, and the
    output is the same as with one worker (``workers=0``: as many as
    :func:`~formreader.driver.batch.auto_workers` gives the batch). A group whose worker dies
    twice is read again one file per task, so that only the file that kills its worker becomes
    an error.
    ``scheduler`` (``local:N`` or a Dask scheduler's address) reads them on a Dask cluster
    instead (:mod:`formreader.driver.cluster`), with the same output again; the files must be
    where the workers can open them by the same path.

    This runs in the batch parent, whose workers start only once it gets here, so it imports
    nothing heavy (see :mod:`formreader.io.inputs`).
    """
    from formreader.driver.batch import auto_workers, ordered_map

    names = [os.fspath(p) for p in files] if sources is None else list(sources)
    stems: list[str | None] = [None] * len(files)
    if job.overlay_dir is not None:  # report imports numpy: only when overlays are asked for
        from formreader.output.report import overlay_stems

        stems[:] = overlay_stems(files)
    workers = min(workers or auto_workers(len(files)), len(files))  # no idle processes for a short batch
    paths = [os.fspath(p) for p in files]
    if scheduler is None and workers <= 1:
        yield from read_group(paths, recognizer_of(model), job, names, stems)
        return
    model_path = model_file(model)
    # a cluster's size is unknown here: its groups are sized as for one worker
    groups = (_GroupTask(tuple(paths[i] for i in g), tuple(names[i] for i in g), tuple(stems[i] for i in g), job,
                         model_path) for g in _groups(len(files), workers if scheduler is None else 1))
    if scheduler is None:
        done = ordered_map(_read_group_task, groups, workers, on_crash=_crashed_alone, split=_alone)
    else:
        from formreader.driver.cluster import cluster_map

        done = cluster_map(_read_group_task, groups, scheduler, on_crash=_crashed_alone, split=_alone)
    for results in done:
        yield from results


def _groups(count: int, workers: int, most: int = GROUP) -> Iterator[range]:
    """The files' indices in groups for the workers: up to ``most`` files, and at most an
    eighth of a worker's share of the files still to come, so that groups shrink towards the
    end of the batch and no worker is left alone with a long last group of pages."""
    start = 0
    while start < count:
        size = max(1, min(most, (count - start) // (8 * workers)))
        yield range(start, start + size)
        start += size


def read_group(paths: Sequence[str], recognizer: Recognizer, job: ReadJob, sources: Sequence[str],
               stems: Sequence[str | None], most: int = GROUP) -> Iterator[FileResult]:
    """Each file's :class:`FileResult`, in order, as soon as it is read: the same results as
    :func:`read_file` one by one, except that a run of single-page field images (up to
    ``most``) is read together (see GROUP)."""
    from formreader.io.remote import is_url

    run: list[tuple[int, PageImage]] = []
    for i, (path, source, stem) in enumerate(zip(paths, sources, stems)):
        field, pages = (None, None) if is_url(path) else _peek(path, job)
        if field is not None:
            run.append((i, field))
            if len(run) < most:
                continue
        yield from _read_together(run, recognizer, job, sources, stems, paths)
        run = []
        if field is not None:
            continue
        if pages is None:
            yield _file_result(read_file(path, recognizer, job, source, stem))
        else:
            yield _file_result(_read_pages(pages, recognizer, job, source, stem, os.fspath(Path(path))))
    yield from _read_together(run, recognizer, job, sources, stems, paths)


def _peek(path: str, job: ReadJob) -> tuple[PageImage | None, Iterator]:
    """The file's page when the file is one page that is a field image (None otherwise), and
    its pages as :func:`formreader.io.pages.iter_pages` gives them, to read them one by one."""
    from formreader.imaging.layout import choose_layout
    from formreader.io.pages import iter_pages

    pages = iter_pages(path, job.options.dpi)
    head: list = []
    try:
        head.extend(islice(pages, 2))
    except InputError as exc:  # the file as a whole is unusable: said when its pages are read
        return None, _replay(head, exc, iter(()))
    one = head[0] if len(head) == 1 and head[0].error is None and head[0].gray is not None else None
    try:
        if one is not None and choose_layout(one.gray, job.options.field_mode) != "field":
            one = None
    except Exception:  # an odd page: read alone, where its error is reported
        one = None
    return one, _replay(head, None, pages)


def _replay(head: list, error: InputError | None, rest: Iterator) -> Iterator:
    """The pages already taken (``head``), then ``error`` if taking them raised one, else the rest."""
    yield from head
    if error is not None:
        raise error
    yield from rest


def _read_together(run: list[tuple[int, PageImage]], recognizer: Recognizer, job: ReadJob,
                   sources: Sequence[str], stems: Sequence[str | None], paths: Sequence[str]) -> Iterator[FileResult]:
    """The results of a run of field images (their index in the group, their page) read
    together (:func:`formreader.reading.zones.read_field_pages`). Should that fail, each is
    read alone, where its error is reported and the others are read."""
    from formreader.reading.zones import read_field_pages

    if not run:
        return
    try:
        found = [_checked(f, job) for f in read_field_pages([p.gray for _, p in run], recognizer, job.spec,
                                                            job.options)]
    except FormreaderError as exc:
        if not isinstance(exc, InputError):
            raise  # model/config problems: every page would fail the same way
        found = None
    except Exception:  # a scanner bug on one odd crop must not sink the run
        found = None
    for k, (i, page) in enumerate(run):
        if found is None:
            local = os.fspath(Path(paths[i]))
            yield _file_result(_read_pages(iter([page]), recognizer, job, sources[i], stems[i], local))
            continue
        height, width = page.gray.shape
        result = PageResult(sources[i], page.number, width, height, found[k], layout="field", rotation=0)
        yield _file_result(iter([_page_read(page.gray, result, job, stems[i] or Path(sources[i]).stem)]))


def _file_result(pages: Iterator[PageRead]) -> FileResult:
    out = FileResult([])
    for done in pages:
        out.pages.append(done.page)
        out.review.extend(done.review)
        if done.overlay is not None:
            out.overlays.append(done.overlay)
    return out


def _review_items(gray: np.ndarray, result: PageResult) -> list[ReviewItem]:
    from formreader.output.review import ReviewItem, crop_png

    return [ReviewItem(result.source, result.page, f, crop_png(gray, f.bbox))
            for f in result.fields if f.status == "review"]


def _save_overlay(gray: np.ndarray, result: PageResult, job: ReadJob, stem: str) -> str:
    """Draw and write the page's overlay; the file written."""
    from formreader.output.report import draw_overlay, overlay_name, write_overlay

    assert job.overlay_dir is not None
    target = Path(job.overlay_dir) / overlay_name(stem, result.page)
    try:
        write_overlay(target, draw_overlay(gray, result, job.options.threshold))
    except OSError as exc:
        raise OutputError(f"{target}: cannot write overlay ({exc.strerror or exc})") from None
    return os.fspath(target)


# --- worker side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GroupTask:
    """Files a worker reads as one task (see :func:`_groups`)."""

    paths: tuple[str, ...]
    sources: tuple[str, ...]
    stems: tuple[str | None, ...]
    job: ReadJob
    model_path: str


def _read_group_task(group: _GroupTask) -> list[FileResult]:
    """Runs in a worker process: :func:`read_group`; the model is loaded on the first task and
    cached after."""
    recognizer = _worker_recognizer(group.model_path)
    return list(read_group(group.paths, recognizer, group.job, group.sources, group.stems))


def _alone(group: _GroupTask) -> list[_GroupTask]:
    """The group's files, each a group of its own."""
    return [_GroupTask((p,), (s,), (t,), group.job, group.model_path)
            for p, s, t in zip(group.paths, group.sources, group.stems)]


def _crashed_alone(group: _GroupTask) -> list[FileResult]:
    """The results of a group whose worker died on it alone (a group of one file, split by
    the executor)."""
    return [FileResult([PageResult(source, 1, error=f"{source}: the worker process died while reading this file "
                                                    "(out of memory, or a decoder crash)")])
            for source in group.sources]


def _worker_recognizer(model_path: str) -> Recognizer:
    from formreader.recognizer.model import load_model, native_stderr_muted

    # batch.init_worker put this process's share of the cores in the environment.
    threads = int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0"))
    with native_stderr_muted():
        # Only if TensorFlow is already loaded: the ONNX fast path (formreader.recognizer.infer)
        # never imports it, and TF started later reads TF_NUM_INTRAOP_THREADS itself. Importing
        # it here cost each worker seconds and ~700 MB (benchmarks/bench_scan.py).
        if threads > 0 and "tensorflow" in __import__("sys").modules:
            import tensorflow as tf

            try:  # only possible before TF's runtime starts, i.e. on this worker's first task
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:
                pass
        return load_model(model_path)


# --- model argument ---------------------------------------------------------------------------


def recognizer_of(model: object) -> Recognizer:
    """A loaded Recognizer from a Recognizer, a model path or None (the default model)."""
    from formreader.recognizer.model import Recognizer, load_model

    if isinstance(model, Recognizer):
        return model
    return load_model(model)  # type: ignore[arg-type]


def model_file(model: object) -> str:
    """A path a worker process can load the same model from (Recognizers do not pickle)."""
    from formreader.errors import ModelError
    from formreader.recognizer.shipped import default_model_path

    if model is not None and not isinstance(model, (str, os.PathLike)):  # a loaded Recognizer
        if getattr(model, "path", None) is None:
            raise ModelError("a Recognizer without a file path cannot be sent to worker processes; "
                             "pass the model's path instead")
        return os.fspath(model.path)  # type: ignore[attr-defined]
    path = Path(model) if model is not None else default_model_path()
    if path.is_dir():
        from formreader.recognizer.bundle import read_manifest

        read_manifest(path)  # a bundle of another format is refused now, not in every worker
        return os.fspath(path.resolve())
    if not path.is_file():
        raise ModelError(f"{path}: model file not found; train one with `formreader train` or pass --model")
    return os.fspath(path.resolve())
