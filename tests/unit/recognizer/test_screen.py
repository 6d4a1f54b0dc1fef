"""The screen: a small network reads every crop first and the full model re-reads the doubtful.

What matters is that the pair answers as the full model does, at a fraction of its cost: the
same argmax on the whole MNIST test set, with only a few percent of crops sent on.
"""

from __future__ import annotations

import numpy as np
from conftest import ROOT, SHIPPED_MODEL

from formreader.recognizer.model import NUM_CLASSES, Recognizer, load_model, screen_path


def _fixed(probs: np.ndarray, calls: list[int]):
    """A forward pass that answers row i of ``probs`` for an input whose pixels all equal i."""
    def forward(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        return probs[x[:, 0, 0].astype(int)]
    return forward


def test_only_doubtful_crops_reach_the_full_model():
    screen_p = np.full((4, NUM_CLASSES), 0.0, np.float32)
    screen_p[:, 3] = [1.0, 0.5, 0.995, 0.98]
    screen_p[:, 5] = 1 - screen_p[:, 3]
    full_p = np.full((4, NUM_CLASSES), 0.0, np.float32)
    full_p[:, 7] = 1.0
    screen_calls: list[int] = []
    full_calls: list[int] = []
    screen = Recognizer(None, forward=_fixed(screen_p, screen_calls))
    rec = Recognizer(None, forward=_fixed(full_p, full_calls), screen=screen, screen_confidence=0.99)
    crops = np.repeat(np.arange(4, dtype=np.float32), 28 * 28).reshape(4, 28, 28)
    digits, probs = rec.classify(crops)
    assert screen_calls == [4] and full_calls == [2]  # rows 1 (0.5) and 3 (0.98)
    assert digits.tolist() == [3, 7, 3, 7]
    np.testing.assert_array_equal(probs[[0, 2]], screen_p[[0, 2]])
    np.testing.assert_array_equal(probs[[1, 3]], full_p[[1, 3]])
    # A stricter threshold for one call (what the page scanner asks): 0.995 goes on as well.
    full_calls.clear()
    digits, _ = rec.classify(crops, screen_confidence=0.999)
    assert full_calls == [3] and digits.tolist() == [3, 7, 7, 7]


def test_no_crop_is_doubtful_means_no_full_model_call():
    p = np.zeros((1, NUM_CLASSES), np.float32)
    p[0, 2] = 1.0
    calls: list[int] = []
    rec = Recognizer(None, forward=_fixed(p, calls), screen=Recognizer(None, forward=_fixed(p, [])))
    rec.probabilities(np.zeros((5, 28, 28), np.float32))
    assert calls == []


def test_the_shipped_pair_reads_mnist_test_as_the_full_model(recognizer, mnist):
    assert screen_path(SHIPPED_MODEL).is_file()
    full = load_model(SHIPPED_MODEL, screen=False)
    assert full.screen is None and recognizer.screen is not None
    x = mnist.x_test.astype(np.float32) / np.float32(255.0)
    pair = recognizer.probabilities(x)
    alone = full.probabilities(x)
    assert int((pair.argmax(1) != alone.argmax(1)).sum()) == 0
    sent_on = float((recognizer.screen.probabilities(x).max(1) < recognizer.screen_confidence).mean())
    print(f"sent to the full model: {sent_on:.2%}")
    assert sent_on < 0.10  # the screen is only worth having if it settles most digits


def test_screen_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("FORMREADER_SCREEN", "off")
    assert load_model(SHIPPED_MODEL).screen is None


def test_a_model_without_a_screen_beside_it_reads_alone(tmp_path):
    import shutil

    own = tmp_path / "mine.keras"
    shutil.copy(SHIPPED_MODEL, own)
    assert load_model(own).screen is None
    assert screen_path(own) == tmp_path / "mine-fast.keras"


def test_the_page_scanner_holds_the_screen_to_the_stricter_threshold(recognizer, monkeypatch):
    """Page crops (cuts, merges, box-line scraps) go on to the full model unless the screen is
    PAGE_SCREEN_CONFIDENCE sure: on them a small screen is sure of what the full model doubts."""
    from formreader.io.pages import load_gray
    from formreader.reading.page import read_page
    from formreader.recognizer.model import PAGE_SCREEN_CONFIDENCE, SCREEN_CONFIDENCE

    assert PAGE_SCREEN_CONFIDENCE > SCREEN_CONFIDENCE
    asked: list[float | None] = []
    classify = Recognizer.classify

    def spy(self, crops, screen_confidence=None):
        asked.append(screen_confidence)
        return classify(self, crops, screen_confidence)

    monkeypatch.setattr(Recognizer, "classify", spy)
    fields = read_page(load_gray(ROOT / "samples" / "hsf-000.jpg"), recognizer)
    assert fields and asked and set(asked) == {PAGE_SCREEN_CONFIDENCE}
