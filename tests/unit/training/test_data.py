"""MNIST IDX parsing: real files, tiny hand-made files and every kind of corruption."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from formreader.errors import DataError
from formreader.training.data import load_mnist, parse_idx_images, parse_idx_labels


def idx_images(images: np.ndarray, magic: int = 2051) -> bytes:
    n, r, c = images.shape
    return struct.pack(">IIII", magic, n, r, c) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = 2049) -> bytes:
    return struct.pack(">II", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def write_set(root, n_train=5, n_test=3, gz=True, **overrides):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": idx_images(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": idx_labels(rng.integers(0, 10, n_train)),
        "t10k-images-idx3-ubyte": idx_images(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_labels(rng.integers(0, 10, n_test)),
    }
    files.update(overrides)
    for name, data in files.items():
        if data is None:
            continue
        if gz:
            with gzip.open(root / (name + ".gz"), "wb") as fh:
                fh.write(data)
        else:
            (root / name).write_bytes(data)
    return files


@pytest.mark.parametrize("gz", [True, False])
def test_tiny_files_round_trip(tmp_path, gz):
    files = write_set(tmp_path, gz=gz)
    m = load_mnist(tmp_path)
    assert m.x_train.shape == (5, 28, 28) and m.x_test.shape == (3, 28, 28)
    assert m.x_train.tobytes() == files["train-images-idx3-ubyte"][16:]
    assert m.y_test.tobytes() == files["t10k-labels-idx1-ubyte"][8:]
    assert set(m.sha256) == {n + (".gz" if gz else "") for n in files}


def test_env_var_is_used(tmp_path, monkeypatch):
    write_set(tmp_path)
    monkeypatch.setenv("FORMREADER_MNIST", str(tmp_path))
    assert load_mnist().source == str(tmp_path)


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("train-images-idx3-ubyte", idx_images(np.zeros((2, 28, 28)), magic=2049), "bad magic"),
        ("train-images-idx3-ubyte", idx_images(np.zeros((5, 28, 28)))[:-10], "truncated"),
        ("train-images-idx3-ubyte", struct.pack(">IIII", 2051, 1, 32, 32) + bytes(1024), "32x32"),
        ("train-labels-idx1-ubyte", idx_labels(np.array([1, 2, 3, 4, 12])), "out of range"),
        ("train-labels-idx1-ubyte", idx_labels(np.arange(4)), "4 labels"),
        ("t10k-labels-idx1-ubyte", b"\x00\x00", "only 2 bytes"),
    ],
)
def test_corrupt_files_name_the_file(tmp_path, name, data, message):
    write_set(tmp_path, **{name: data})
    with pytest.raises(DataError) as err:
        load_mnist(tmp_path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file_says_how_to_provide_it(tmp_path):
    write_set(tmp_path, **{"t10k-images-idx3-ubyte": None})
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: MNIST file not found; pass --mnist DIR"):
        load_mnist(tmp_path)


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="MNIST directory not found"):
        load_mnist(tmp_path / "nope")


def test_corrupt_gzip(tmp_path):
    write_set(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(DataError, match="cannot read MNIST file"):
        load_mnist(tmp_path)


def test_parsers_on_bytes():
    imgs = parse_idx_images(idx_images(np.full((2, 28, 28), 7)))
    assert imgs.shape == (2, 28, 28) and imgs.max() == 7
    assert parse_idx_labels(idx_labels(np.array([0, 9]))).tolist() == [0, 9]


def test_real_mnist_counts(mnist):
    # Label counts published with the data set (../shared/README.md).
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
