"""Where the model comes from: ``$FORMREADER_MODEL``, else the one shipped inside the package.

A module of its own, free of numpy, because the batch parent only names the model file to its
workers (which load it); importing :mod:`formreader.model` there pulled numpy in before the
first worker could start (benchmarks/bench_scan.py).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

MODEL_ENV = "FORMREADER_MODEL"
MODEL_FILE = "digits.keras"


def default_model_path() -> Path:
    """``$FORMREADER_MODEL`` if set, else the model shipped inside the package."""
    env = os.environ.get(MODEL_ENV)
    if env:
        return Path(env)
    try:  # installed: models/ is packaged as formreader._models
        return Path(str(resources.files("formreader._models").joinpath(MODEL_FILE)))
    except ModuleNotFoundError:  # imported from a source tree that was not installed
        return Path(__file__).resolve().parents[1] / "models" / MODEL_FILE
