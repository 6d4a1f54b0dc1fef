"""Page crops: training digits cut from synthetic pages by the shipped pipelines, labelled from
the pages' truth, and a fine-tuning run that uses them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from formreader.reading.decode import DigitRead, Reading
from formreader.training.data import Mnist
from formreader.training.drawing import Digits
from formreader.training.pagecrops import PIPELINE_KINDS, labelled_crops, page_crops
from formreader.training.train import TrainConfig, train

pytestmark = pytest.mark.slow  # seconds each: `pytest -m "not slow"` skips them while iterating


def _reading(values: str) -> Reading:
    crop = np.zeros((28, 28), np.float32)
    return Reading(digits=[DigitRead(int(v), 0.9, (0, 0, 1, 1), crop + int(v)) for v in values])


def test_crops_are_labelled_from_the_truth_and_miscounted_fields_are_left_out() -> None:
    readings = [_reading("125"), _reading("44"), None, _reading("7")]
    xs, ys, reads, skipped = labelled_crops(readings, ["a", "b", "c", "d"],
                                            {"a": "123", "b": "449", "c": "5", "d": "7"})
    assert ys == [1, 2, 3, 7] and reads == [1, 2, 5, 7]  # "b" read 2 of 3 digits, "c" nothing
    assert skipped == 2
    assert [float(x[0, 0]) for x in xs] == [1.0, 2.0, 5.0, 7.0]  # each crop with its own label


@pytest.fixture(scope="module")
def crops(mnist, recognizer):
    return page_crops(Digits.from_mnist(mnist.x_test, mnist.y_test), recognizer, pages=1, seed=7000)


def test_page_crops_are_the_scanners_crops_of_every_pipeline(crops) -> None:
    assert crops.pages == len(PIPELINE_KINDS)
    assert crops.x.shape == (len(crops.y), 28, 28) and crops.x.dtype == np.float32
    assert len(crops.y) > 150  # an HSF page alone has 130 digits
    assert set(np.unique(crops.y)) <= set(range(10))
    # The shipped model reads nearly all of them as labelled: labels and crops line up.
    assert (crops.y == crops.read).mean() > 0.95
    # MNIST-normalised: a 20 px box, centred, in [0, 1]
    assert 0.0 <= crops.x.min() and crops.x.max() <= 1.0
    for x in crops.x:
        rows, cols = np.flatnonzero(x.max(axis=1) > 0), np.flatnonzero(x.max(axis=0) > 0)
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)
    summary = crops.summary()
    assert summary["crops"] == len(crops.y) and summary["fields"] + summary["fields_skipped"] > 0


def test_page_crops_are_deterministic(mnist, recognizer, crops) -> None:
    again = page_crops(Digits.from_mnist(mnist.x_test, mnist.y_test), recognizer, pages=1, seed=7000)
    np.testing.assert_array_equal(again.x, crops.x)
    np.testing.assert_array_equal(again.y, crops.y)


def test_fine_tuning_on_page_crops_starts_from_the_given_model(mnist, tmp_path) -> None:
    import keras

    from formreader.recognizer.shipped import default_model_path

    fast = default_model_path().with_name("digits-fast.keras")
    small = Mnist(mnist.x_train[:1500], mnist.y_train[:1500], mnist.x_test[:300], mnist.y_test[:300],
                  mnist.sha256, mnist.source)
    cfg = TrainConfig(arch="lite", epochs=1, limit=400, val_size=300, batch_size=64, learning_rate=1e-9,
                      init=str(fast), page_crops=1, scan_variants=1, seed=5)
    card = train(small, tmp_path / "ft.keras", cfg, verbose=0)
    saved = json.loads((tmp_path / "ft.json").read_text())
    assert saved["page_crops"]["crops"] > 150 and saved["page_crops"]["pages"] == len(PIPELINE_KINDS)
    assert saved["init"]["path"] == str(fast) and saved["init"]["hyperparameters"]["arch"] == "lite"
    # validated on the digits the starting model (seed 1) held out, whatever the new seed
    assert saved["hyperparameters"]["seed"] == 5 and saved["hyperparameters"]["split_seed"] == 1
    # At a vanishing learning rate the kernels stay the starting model's (batch-norm statistics,
    # which are not learned by gradient, move).
    start = keras.saving.load_model(fast, compile=False).get_weights()
    for a, b in zip(start, keras.saving.load_model(tmp_path / "ft.keras", compile=False).get_weights()):
        if a.ndim > 1:
            np.testing.assert_allclose(a, b, atol=1e-5)
    assert card["test"]["errors"] <= 12  # the shipped screen's accuracy, not a random network's


def test_page_crops_need_a_model_to_cut_with(mnist, tmp_path) -> None:
    from formreader.errors import ModelError

    small = Mnist(mnist.x_train[:500], mnist.y_train[:500], mnist.x_test[:100], mnist.y_test[:100],
                  mnist.sha256, mnist.source)
    with pytest.raises(ModelError, match="--init"):
        train(small, tmp_path / "x.keras", TrainConfig(epochs=1, limit=200, val_size=100, page_crops=1), verbose=0)
