"""The Python API: files in, :class:`PageResult` out, one result per page, in input order.

A page that cannot be read becomes a result with ``error`` set and no fields, and the batch
goes on; only problems that make every page pointless (a missing or broken model, an overlay
directory that cannot be written) raise. The CLI's ``scan`` is a thin layer over
:func:`scan_files`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

from formreader.io.inputs import find_inputs
from formreader.results import PageResult, ScanOptions

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from formreader.config import LoadedPipeline
    from formreader.recognizer.model import Recognizer

PathLike = Union[str, "os.PathLike[str]"]
ModelArg = Union["Recognizer", PathLike, None]


def read(path: "PathLike | Sequence[PathLike] | np.ndarray", options: ScanOptions = ScanOptions(),
         model: ModelArg = None, *, mode: str | None = None, scheduler: str | None = None) -> list[PageResult]:
    """Read every page of a file (or of each file in a directory, glob or list), or one image
    given as an array (grey, or BGR as OpenCV loads it; its result's source is ``<array>``).

    ``model`` is a loaded :class:`~formreader.recognizer.model.Recognizer`, a model file, a
    bundle folder, or None for the default model; it is loaded once per process and reused by
    later calls. ``mode`` (``auto``, ``field``, ``page``, ``boxes``, ``free``) overrides
    ``options.field_mode``; ``scheduler`` reads on a Dask cluster (``local:N`` or an address).
    """
    if mode is not None:
        options = dataclasses.replace(options, field_mode=mode)  # type: ignore[arg-type]
    if hasattr(path, "shape") and hasattr(path, "dtype"):  # an image already in memory
        return [_read_array(path, options, model)]
    args = [path] if isinstance(path, (str, os.PathLike)) else list(path)  # type: ignore[arg-type]
    files, _ = find_inputs(args)
    return [page for pages in scan_files(files, options, model, scheduler=scheduler) for page in pages]


def _read_array(image: "np.ndarray", options: ScanOptions, model: ModelArg) -> PageResult:
    import numpy as np

    from formreader.driver.files import ReadJob, read_page_upright, recognizer_of
    from formreader.errors import InputError

    gray = np.asarray(image)
    if gray.ndim == 3 and gray.shape[2] in (3, 4):
        import cv2

        gray = cv2.cvtColor(gray[..., :3].astype(np.uint8), cv2.COLOR_BGR2GRAY)
    if gray.ndim != 2 or gray.size == 0 or gray.dtype != np.uint8:
        raise InputError(f"<array>: expected an 8-bit grey or BGR image, got {gray.dtype} {gray.shape}")
    degrees, _, layout, fields = read_page_upright(gray, recognizer_of(model), ReadJob(options))
    return PageResult("<array>", 1, gray.shape[1], gray.shape[0], list(fields), layout=layout, rotation=degrees)


class Pipeline:
    """A YAML pipeline, validated, ready to run: ``Pipeline.from_yaml("cheque.yaml").run()``.

    The same as ``formreader run``: its inputs are read, its fields named and checked against
    their rules, and its outputs (CSV, JSON, overlays, review page) written; :meth:`run` also
    returns the pages.
    """

    def __init__(self, loaded: "LoadedPipeline") -> None:
        self.loaded = loaded

    @classmethod
    def from_yaml(cls, path: PathLike, overrides: Sequence[str] = ()) -> "Pipeline":
        """Load and validate ``path`` (ConfigError naming the key if it is wrong); ``overrides``
        as ``--set`` takes them (``"threshold=0.8"``)."""
        from formreader.config import load_pipeline

        return cls(load_pipeline(Path(path), list(overrides)))

    def run(self, model: ModelArg = None, *, workers: int = 1, scheduler: str | None = None,
            force: bool = False) -> list[PageResult]:
        """Read every input and write the pipeline's outputs; the pages in input order.

        Before anything is read, an output that is an input, the pipeline or another output is
        refused, and so are overlay PNGs already in ``outputs.overlays`` unless ``force``: a
        FormreaderError (exit code 2)."""
        from formreader.driver.pipeline import check_outputs, run

        p = self.loaded
        check_outputs(p, force)
        pages, _ = run(p, model, workers=workers, scheduler=scheduler or p.spec.scheduler)  # type: ignore[arg-type]
        return pages


def scan_files(files: Sequence[PathLike], options: ScanOptions = ScanOptions(), model: ModelArg = None,
               *, workers: int = 1, overlay_dir: PathLike | None = None,
               scheduler: str | None = None) -> Iterator[list[PageResult]]:
    """The pages of each file, one list per file, in input order, streaming.

    ``workers > 1`` reads files in that many spawned processes (each loads the model once;
    0: one per core, no more than one per 100 files, as the CLI does by default);
    results still come in input order and at most ``2 * workers`` files are in flight, so
    memory stays flat however long the batch. Overlays, if asked for, are drawn where the page
    pixels are (in the worker) as ``<stem>-p<page>.png``. ``scheduler``: ``local:N`` or a Dask
    scheduler's address reads the batch on a Dask cluster, same results. The batch driver is
    :func:`formreader.driver.files.read_files`.
    """
    from formreader.driver.files import ReadJob, read_files

    job = ReadJob(options, overlay_dir=None if overlay_dir is None else os.fspath(overlay_dir))
    for done in read_files(files, job, model, workers=workers, scheduler=scheduler):
        yield done.pages


def read_file(path: PathLike, recognizer: "Recognizer", options: ScanOptions = ScanOptions(),
              overlay_dir: PathLike | None = None, overlay_stem: str | None = None) -> Iterator[PageResult]:
    """Each page of one file as a PageResult; every per-page failure becomes that page's error."""
    from formreader.driver import files

    job = files.ReadJob(options, overlay_dir=None if overlay_dir is None else os.fspath(overlay_dir))
    for done in files.read_file(path, recognizer, job, overlay_stem=overlay_stem):
        yield done.page


# --- model argument ---------------------------------------------------------------------------


def check_model(model: ModelArg = None, workers: int = 1, quiet: bool = True, remote: bool = False) -> None:
    """Fail now (ModelError) rather than on every page: load it, or for workers (``workers > 1``
    or ``remote``: a Dask cluster) check the file.

    With ``workers <= 1`` the loaded model is cached, so the scan that follows reuses it.
    ``quiet`` hides TensorFlow's native start-up log lines (for the CLI's clean stderr).
    """
    from formreader.driver.files import model_file, recognizer_of

    if workers > 1 or remote:
        model_file(model)  # the workers load it; the parent stays light
    elif quiet:
        from formreader.recognizer.model import native_stderr_muted

        with native_stderr_muted():
            recognizer_of(model)
    else:
        recognizer_of(model)
