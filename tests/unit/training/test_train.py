"""Training: a 1-epoch smoke run on a small subset writes a model, its card and curves,
and the same data and seed give the same weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from formreader.training.data import Mnist
from formreader.training.train import TrainConfig, train

pytestmark = pytest.mark.slow  # seconds each: `pytest -m "not slow"` skips them while iterating


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


def test_a_teacher_gives_its_probabilities_as_the_targets(small):
    """Distillation (``--teacher``): every training input's target is the teacher's reading of
    that very input (scan-style digits, reject marks and all), not its label."""
    import keras

    from formreader.recognizer.model import Recognizer, build_fast_model
    from formreader.training.train import _make_sequence, make_pools

    cfg = TrainConfig(limit=200, batch_size=32, scan_variants=1)
    x, y = small.x_train[:200], small.y_train[:200]
    keras.utils.set_random_seed(2)
    teacher = Recognizer(build_fast_model())
    plain = _make_sequence(x, y, make_pools(x, y, cfg), cfg)
    taught = _make_sequence(x, y, make_pools(x, y, cfg), cfg, teacher=teacher)
    images, labels = plain[1]
    same_images, targets = taught[1]
    np.testing.assert_array_equal(images, same_images)  # the teacher changes the targets only
    assert labels.shape == (len(images),) and targets.shape == (len(images), 11)
    np.testing.assert_allclose(targets, teacher.probabilities(images[..., 0]), atol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)


def test_distilled_training_records_its_teacher(small, tmp_path):
    from conftest import SHIPPED_MODEL

    cfg = TrainConfig(arch="fast", epochs=1, limit=300, val_size=300, batch_size=64, scan_variants=1,
                      teacher=str(SHIPPED_MODEL))
    card = train(small, tmp_path / "fast.keras", cfg, verbose=0)
    assert card["hyperparameters"]["teacher"] == str(SHIPPED_MODEL)
    assert card["history"]["loss"][0] > 0 and card["test"]["n"] == 300
