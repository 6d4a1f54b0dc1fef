"""Where the model comes from: ``$FORMREADER_MODEL``, else the one shipped inside the package
(and where the shipped pipelines are).

A module of its own, free of numpy, because the batch parent only names the model file to its
workers (which load it); importing :mod:`formreader.recognizer.model` there pulled numpy in before the
first worker could start (benchmarks/bench_scan.py).
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

MODEL_ENV = "FORMREADER_MODEL"
MODEL_FILE = "digits.keras"
STRING_MODEL_ENV = "FORMREADER_STRING_MODEL"
STRING_MODEL_FILE = "strings.onnx"


@lru_cache(maxsize=None)
def _shipped_file(package: str, folder: str, name: str) -> Path:
    """A file shipped with formreader: in ``package`` when installed (the repository's
    ``folder`` is packaged under that name), else in ``folder`` of the source tree.

    ``joinpath`` first: the packages have no ``__init__``, and a namespace package's own path is
    a MultiplexedPath, not a folder name. Looked up once per process: the lookup searches the
    import path (~0.6 ms), and every field image asks for the string reader's file.
    """
    try:
        return Path(str(resources.files(package).joinpath(name)))
    except ModuleNotFoundError:  # imported from a source tree that was not installed
        return Path(__file__).resolve().parents[2] / folder / name


def default_model_path() -> Path:
    """``$FORMREADER_MODEL`` if set, else the model shipped inside the package."""
    env = os.environ.get(MODEL_ENV)
    if env:
        return Path(env)
    return _shipped_file("formreader._models", "models", MODEL_FILE)


def shipped_pipelines() -> Path:
    """The folder of the shipped pipeline files (``pipelines/`` in the repository)."""
    return _shipped_file("formreader._pipelines", "pipelines", "nist-hsf.yaml").parent


def string_model_path(bundled: Path | None = None) -> Path | None:
    """``$FORMREADER_STRING_MODEL`` if set (``none``: field images are read by the segmenter
    alone), else ``bundled`` (the string reader of the model bundle in use), else the string
    reader shipped inside the package."""
    env = os.environ.get(STRING_MODEL_ENV)
    if env and env.lower() == "none":
        return None
    if env:
        return Path(env)
    if bundled is not None:
        return bundled
    return _shipped_file("formreader._models", "models", STRING_MODEL_FILE)
