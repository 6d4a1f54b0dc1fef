"""Shared fixtures: the MNIST files and real scan in ../shared, and the shipped model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
MNIST_DIR = SHARED / "mnist"
NIST_SCAN = SHARED / "scans" / "nist-hsf-f0000.png"
SHIPPED_MODEL = ROOT / "models" / "digits.keras"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not available (tests expect ../shared beside the repository)")
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return _need(MNIST_DIR)


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path):
    from formreader.training.data import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def recognizer():
    from formreader.recognizer.model import load_model

    return load_model(SHIPPED_MODEL)


@pytest.fixture(scope="session")
def nist_scan() -> Path:
    return _need(NIST_SCAN)
