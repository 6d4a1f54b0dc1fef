"""The Python API: files in, :class:`PageResult` out, one result per page, in input order.

A page that cannot be read becomes a result with ``error`` set and no fields, and the batch
goes on; only problems that make every page pointless (a missing or broken model, an overlay
directory that cannot be written) raise. The CLI's ``scan`` is a thin layer over
:func:`scan_files`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

from formreader.errors import FormreaderError, InputError, ModelError, OutputError
from formreader.io.inputs import find_inputs
from formreader.results import PageResult, ScanOptions

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from formreader.recognizer.model import Recognizer

PathLike = Union[str, "os.PathLike[str]"]
ModelArg = Union["Recognizer", PathLike, None]


def read(path: PathLike | Sequence[PathLike], options: ScanOptions = ScanOptions(),
         model: ModelArg = None) -> list[PageResult]:
    """Read every page of a file (or of each file in a directory, glob or list).

    ``model`` is a loaded :class:`~formreader.recognizer.model.Recognizer`, a ``.keras`` path, or None for
    the default model; it is loaded once per process and reused by later calls.
    """
    args = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    files, _ = find_inputs(args)
    return [page for pages in scan_files(files, options, model) for page in pages]


def scan_files(files: Sequence[PathLike], options: ScanOptions = ScanOptions(), model: ModelArg = None,
               *, workers: int = 1, overlay_dir: PathLike | None = None) -> Iterator[list[PageResult]]:
    """The pages of each file, one list per file, in input order, streaming.

    ``workers > 1`` reads files in that many spawned processes (each loads the model once);
    results still come in input order and at most ``2 * workers`` files are in flight, so
    memory stays flat however long the batch. Overlays, if asked for, are drawn where the page
    pixels are (in the worker) as ``<stem>-p<page>.png``.

    This runs in the batch parent, whose workers start only once it gets here, so it imports
    nothing heavy (see :mod:`formreader.io.inputs`).
    """
    from formreader.driver.batch import ordered_map

    stems: list[str | None] = [None] * len(files)
    if overlay_dir is not None:  # report imports numpy: only when overlays are asked for
        from formreader.output.report import overlay_stems

        stems[:] = overlay_stems(files)
    odir = None if overlay_dir is None else os.fspath(overlay_dir)
    workers = min(workers, len(files))  # no idle processes for a short batch
    if workers <= 1:
        recognizer = _recognizer(model)
        for path, stem in zip(files, stems):
            yield list(read_file(path, recognizer, options, odir, stem))
        return
    model_path = _model_path(model)
    tasks = (_FileTask(os.fspath(p), options, model_path, odir, stem) for p, stem in zip(files, stems))
    yield from ordered_map(_read_file_task, tasks, workers, on_crash=_crashed)


def read_file(path: PathLike, recognizer: "Recognizer", options: ScanOptions = ScanOptions(),
              overlay_dir: PathLike | None = None, overlay_stem: str | None = None) -> Iterator[PageResult]:
    """Each page of one file as a PageResult; every per-page failure becomes that page's error."""
    from formreader.imaging.layout import choose_layout
    from formreader.io.pages import _describe, iter_pages
    from formreader.reading import page as page_stage  # looked up per call so tests can substitute read_page
    from formreader.reading.field_read import read_field_image

    source = os.fspath(path)
    next_number = 1
    try:
        for image in iter_pages(path, options.dpi):
            number = next_number = image.number
            next_number += 1
            if image.error is not None or image.gray is None:
                yield PageResult(source, number, error=str(image.error))
                continue
            gray = image.gray
            height, width = gray.shape
            try:
                layout = choose_layout(gray.shape, options.field_mode)
                if layout == "field":
                    fields = [read_field_image(gray, recognizer, options)]
                else:
                    fields = page_stage.read_page(gray, recognizer, options)
                result = PageResult(source, number, width, height, list(fields), layout=layout)
            except InputError as exc:
                result = PageResult(source, number, width, height, error=str(exc))
            except FormreaderError:
                raise  # model/config problems: every page would fail the same way
            except Exception as exc:  # a scanner bug on one odd page must not sink the batch
                result = PageResult(source, number, width, height,
                                    error=f"{source}: page {number}: could not read page ({_describe(exc)})")
            if overlay_dir is not None:
                _save_overlay(gray, result, options, overlay_dir, overlay_stem or Path(source).stem)
            yield result
    except InputError as exc:  # the file as a whole (or all of it from here on) is unusable
        yield PageResult(source, next_number, error=str(exc))


def _save_overlay(gray: np.ndarray, result: PageResult, options: ScanOptions, overlay_dir: PathLike,
                  stem: str) -> None:
    from formreader.output.report import draw_overlay, overlay_name, write_overlay

    target = Path(overlay_dir) / overlay_name(stem, result.page)
    try:
        write_overlay(target, draw_overlay(gray, result, options.threshold))
    except OSError as exc:
        raise OutputError(f"{target}: cannot write overlay ({exc.strerror or exc})") from None


# --- worker side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileTask:
    path: str
    options: ScanOptions
    model_path: str
    overlay_dir: str | None
    overlay_stem: str | None


def _read_file_task(task: _FileTask) -> list[PageResult]:
    """Runs in a worker process: the model is loaded on the first task and cached after."""
    recognizer = _worker_recognizer(task.model_path)
    return list(read_file(task.path, recognizer, task.options, task.overlay_dir, task.overlay_stem))


def _crashed(task: _FileTask) -> list[PageResult]:
    return [PageResult(task.path, 1, error=f"{task.path}: the worker process died while reading this file "
                                           "(out of memory, or a decoder crash)")]


def _worker_recognizer(model_path: str) -> "Recognizer":
    from formreader.recognizer.model import load_model, native_stderr_muted

    # batch.init_worker put this process's share of the cores in the environment.
    threads = int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0"))
    with native_stderr_muted():
        # Only if TensorFlow is already loaded: the ONNX fast path (formreader.recognizer.infer) never
        # imports it, and TF started later reads TF_NUM_INTRAOP_THREADS itself. Importing it
        # here cost each worker seconds and ~700 MB (benchmarks/bench_scan.py).
        if threads > 0 and "tensorflow" in __import__("sys").modules:
            import tensorflow as tf

            try:  # only possible before TF's runtime starts, i.e. on this worker's first task
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:
                pass
        return load_model(model_path)


# --- model argument ---------------------------------------------------------------------------


def check_model(model: ModelArg = None, workers: int = 1, quiet: bool = True) -> None:
    """Fail now (ModelError) rather than on every page: load it, or for workers check the file.

    With ``workers <= 1`` the loaded model is cached, so the scan that follows reuses it.
    ``quiet`` hides TensorFlow's native start-up log lines (for the CLI's clean stderr).
    """
    if workers > 1:
        _model_path(model)  # the workers load it; the parent stays light
    elif quiet:
        from formreader.recognizer.model import native_stderr_muted

        with native_stderr_muted():
            _recognizer(model)
    else:
        _recognizer(model)


def _recognizer(model: ModelArg) -> "Recognizer":
    from formreader.recognizer.model import Recognizer, load_model

    if isinstance(model, Recognizer):
        return model
    return load_model(model)


def _model_path(model: ModelArg) -> str:
    """A path a worker process can load the same model from (Recognizers do not pickle)."""
    from formreader.recognizer.shipped import default_model_path

    if model is not None and not isinstance(model, (str, os.PathLike)):  # a loaded Recognizer
        if model.path is None:
            raise ModelError("a Recognizer without a file path cannot be sent to worker processes; "
                             "pass the model's path instead")
        return os.fspath(model.path)
    path = Path(model) if model is not None else default_model_path()
    if not path.is_file():
        raise ModelError(f"{path}: model file not found; train one with `formreader train` or pass --model")
    return os.fspath(path.resolve())

