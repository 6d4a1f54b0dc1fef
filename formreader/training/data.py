"""MNIST loading: the four standard IDX files from a directory, or the Keras cache.

Machines without internet cannot use ``keras.datasets.mnist.load_data()``, so a directory of IDX
files (gzip or raw) is the primary source. Every file is checked (magic number, dimensions, count,
label range) because a truncated download otherwise shows up much later as a baffling accuracy.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formreader.errors import DataError

ENV_VAR = "FORMREADER_MNIST"
IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
HOW_TO = (
    "pass --mnist DIR (or set FORMREADER_MNIST) to a directory holding the four MNIST IDX files "
    "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
    "t10k-labels-idx1-ubyte[.gz])"
)


@dataclass(frozen=True)
class Mnist:
    """MNIST as uint8 arrays: images (N, 28, 28) white ink on black, labels (N,) in 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sha256: dict[str, str]
    source: str


def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        # Some mirrors name the files with a dot (train-images.idx3-ubyte).
        for candidate in (name, name.replace("-idx", ".idx")):
            path = directory / candidate
            if path.is_file():
                return path
    raise DataError(f"{directory / (stem + '.gz')}: MNIST file not found; {HOW_TO}")


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read MNIST file ({exc}); {HOW_TO}") from None


def parse_idx_images(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an IDX3 image file; raise DataError naming ``name`` if it is malformed."""
    if len(data) < 16:
        raise DataError(f"{name}: not an MNIST image file (only {len(data)} bytes)")
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != IMAGES_MAGIC:
        raise DataError(f"{name}: bad magic number {magic} (expected {IMAGES_MAGIC} for images)")
    if (rows, cols) != (28, 28):
        raise DataError(f"{name}: images are {rows}x{cols}, expected 28x28")
    expected = 16 + count * rows * cols
    if len(data) != expected:
        raise DataError(f"{name}: truncated or padded: {len(data)} bytes, expected {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols).copy()


def parse_idx_labels(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse an IDX1 label file; raise DataError naming ``name`` if it is malformed."""
    if len(data) < 8:
        raise DataError(f"{name}: not an MNIST label file (only {len(data)} bytes)")
    magic, count = struct.unpack(">II", data[:8])
    if magic != LABELS_MAGIC:
        raise DataError(f"{name}: bad magic number {magic} (expected {LABELS_MAGIC} for labels)")
    if len(data) != 8 + count:
        raise DataError(f"{name}: truncated or padded: {len(data)} bytes, expected {8 + count}")
    labels = np.frombuffer(data, dtype=np.uint8, offset=8).copy()
    if labels.size and labels.max() > 9:
        raise DataError(f"{name}: label {int(labels.max())} out of range 0..9")
    return labels


def _load_split(directory: Path, split: str, sha: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
    img_path, lbl_path = (_find(directory, stem) for stem in SPLITS[split])
    img_bytes, lbl_bytes = _read_bytes(img_path), _read_bytes(lbl_path)
    for path, raw in ((img_path, img_bytes), (lbl_path, lbl_bytes)):
        sha[path.name] = hashlib.sha256(raw).hexdigest()
    images = parse_idx_images(img_bytes, str(img_path))
    labels = parse_idx_labels(lbl_bytes, str(lbl_path))
    if len(images) != len(labels):
        raise DataError(
            f"{img_path}: {len(images)} images but {lbl_path.name} has {len(labels)} labels"
        )
    return images, labels


def load_mnist(directory: str | os.PathLike[str] | None = None) -> Mnist:
    """Load MNIST from ``directory``, else ``$FORMREADER_MNIST``, else the Keras cache/download.

    The returned ``sha256`` maps each file name to the SHA-256 of its *decompressed* bytes, so a
    model card records exactly which data a model was trained on whatever the compression.
    """
    directory = directory or os.environ.get(ENV_VAR)
    if directory:
        root = Path(directory)
        if not root.is_dir():
            raise DataError(f"{root}: MNIST directory not found; {HOW_TO}")
        sha: dict[str, str] = {}
        x_train, y_train = _load_split(root, "train", sha)
        x_test, y_test = _load_split(root, "test", sha)
        return Mnist(x_train, y_train, x_test, y_test, sha, str(root))
    return _load_keras()


def _load_keras() -> Mnist:
    try:
        from keras.datasets import mnist  # imported late: pulls in the ML stack
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as exc:  # network errors come in many types
        raise DataError(f"keras mnist.load_data() failed ({type(exc).__name__}); {HOW_TO}") from None
    sha = {
        name: hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
        for name, arr in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test), ("y_test", y_test))
    }
    return Mnist(x_train, y_train, x_test, y_test, sha, "keras.datasets.mnist")
