"""formreader: read handwritten digits off scanned forms.

The public API is imported lazily so that ``import formreader`` (and the CLI's ``--help``) does
not pull in TensorFlow.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["read", "Pipeline", "ScanOptions", "PageResult", "Field", "Digit", "load_model", "Recognizer",
           "to_mnist", "FormreaderError", "InputError", "ConfigError", "ModelError", "OutputError", "DataError",
           "ExitCode", "__version__"]

_LAZY = {
    "read": ("formreader.api", "read"),
    "Pipeline": ("formreader.api", "Pipeline"),
    "ScanOptions": ("formreader.results", "ScanOptions"),
    "PageResult": ("formreader.results", "PageResult"),
    "Field": ("formreader.results", "Field"),
    "Digit": ("formreader.results", "Digit"),
    **{name: ("formreader.errors", name) for name in ("FormreaderError", "InputError", "ConfigError", "ModelError",
                                                      "OutputError", "DataError", "ExitCode")},
    "load_model": ("formreader.recognizer.model", "load_model"),
    "Recognizer": ("formreader.recognizer.model", "Recognizer"),
    "to_mnist": ("formreader.imaging.normalize", "to_mnist"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'formreader' has no attribute {name!r}")
