"""Training: a 1-epoch smoke run on a small subset writes a model, its card and curves,
and the same data and seed give the same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from formreader.data import Mnist
from formreader.train import TrainConfig, train


@pytest.fixture(scope="module")
def small(mnist) -> Mnist:
    n = 1500
    return Mnist(mnist.x_train[:n], mnist.y_train[:n], mnist.x_test[:300], mnist.y_test[:300],
                 mnist.sha256, mnist.source)


def test_one_epoch_smoke_and_determinism(small, tmp_path):
    import keras

    cfg = TrainConfig(epochs=1, limit=400, val_size=300, batch_size=64)
    card = train(small, tmp_path / "a.keras", cfg, verbose=0)
    train(small, tmp_path / "b.keras", cfg, verbose=0)

    for suffix in (".keras", ".json", ".png"):
        assert (tmp_path / ("a" + suffix)).stat().st_size > 0
    saved = json.loads((tmp_path / "a.json").read_text())
    assert saved["test"]["n"] == 300 and 0.0 <= saved["test"]["accuracy"] <= 1.0
    assert set(saved["per_class"]) == {str(d) for d in range(10)}
    assert len(saved["confusion"]) == 10 and len(saved["confusion"][0]) == 11
    assert saved["data"]["sha256"] == small.sha256
    assert saved["hyperparameters"]["seed"] == 1
    assert set(saved["reject"]["by_kind"]) == {"dash", "blob", "box_fragment", "letter", "half_digit", "pair"}
    assert card["epochs_run"] == 1 and card["training_seconds"] > 0

    a = keras.saving.load_model(tmp_path / "a.keras", compile=False)
    b = keras.saving.load_model(tmp_path / "b.keras", compile=False)
    assert getattr(a, "optimizer", None) is None  # shipped without optimizer state
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
