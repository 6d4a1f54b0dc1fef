"""The string synthesiser draws only what a reader could read: the label must be on the page."""

from __future__ import annotations

import cv2
import numpy as np

from formreader.recognizer.strings import HEIGHT
from formreader.training.string_synth import StringWriter


def _writer(mnist, seed: int = 7) -> StringWriter:
    return StringWriter(mnist.x_test, mnist.y_test, seed=seed)


def test_same_seed_same_samples(mnist) -> None:
    a, b = _writer(mnist), _writer(mnist)
    for _ in range(20):
        sa, sb = a.sample(), b.sample()
        assert sa.text == sb.text and np.array_equal(sa.image, sb.image)


def test_every_sample_has_the_trained_height_and_ink(mnist) -> None:
    w = _writer(mnist)
    for _ in range(200):
        s = w.sample()
        assert s.image.shape[0] == HEIGHT and s.image.shape[1] <= w.width
        assert s.image.max() > 0.5 and s.text


def test_a_full_stop_survives_the_finest_pen(mnist) -> None:
    # The smallest dot the writer draws, alone on the canvas, through the eroding "fine pen"
    # branch of the finish: it must still be ink after binarising and shrinking.
    w = _writer(mnist)
    dh = 18.0 * 1.5
    for seed in range(30):
        w.rng = np.random.default_rng(seed)
        dot, _ = w._mark(".", dh, pen=1.5)
        canvas = np.zeros((int(dh * 2.2), 80), np.float32)
        canvas[30 : 30 + dot.shape[0], 40 : 40 + dot.shape[1]] = dot
        eroded = cv2.erode(canvas, np.ones((3, 3), np.uint8))
        assert (eroded > 0.6).any(), f"seed {seed}: the dot vanished"


def test_thin_strokes_are_never_eroded_away(mnist) -> None:
    # A thin-stroke sample loses no ink to the finish (the erosion is for broad strokes only).
    w = _writer(mnist)
    canvas = np.zeros((60, 120), np.float32)
    cv2.line(canvas, (20, 10), (20, 50), 1.0, 1)  # one erosion wipes it out (8 of these 40 seeds)
    for seed in range(40):
        w.rng = np.random.default_rng(seed)
        out = w._finish(canvas.copy(), 27.0, thin=True)
        assert out.max() > 0, f"seed {seed}: a thin stroke was wiped out"


def test_specks_stay_off_the_foot_line_where_a_full_stop_would_sit(mnist) -> None:
    w = _writer(mnist, seed=3)
    dh, top = 27.0, 20
    for _ in range(300):
        canvas = np.zeros((int(dh * 2.2) + 20, 200), np.float32)
        w._extras(canvas, top, dh, 3.0, x_end=150, text="123")
        ys = np.nonzero(canvas.max(axis=1) > 0)[0]
        # Underlines (wide) may cross the band; specks (small round marks) must not.
        n, _, stats, _ = cv2.connectedComponentsWithStats((canvas > 0).astype(np.uint8))
        for x, y, cw, ch, _area in stats[1:]:
            if cw <= 3 * ch:  # a speck, not a line
                centre = y + ch / 2.0
                assert not (top + 0.75 * dh < centre < top + 1.1 * dh), (x, y, cw, ch, ys)


def test_a_small_tail_is_only_ever_the_last_digits_after_a_digit(mnist, monkeypatch) -> None:
    import formreader.training.string_synth as synth

    monkeypatch.setattr(synth, "SMALL_TAIL", 1.0)
    w = _writer(mnist, seed=11)
    starts = []
    for text in ("7", "12", "1.5", "250", "4,50", "19-", "123456"):
        start = w._small_tail(text)
        assert start == len(text) or (start >= 1 and text[start - 1].isdigit() and text[start:].isdigit()
                                      and len(text) - start in (1, 2)), (text, start)
        starts.append(start < len(text))
    assert starts[0] is False and starts[5] is False and any(starts)
    monkeypatch.setattr(synth, "SMALL_TAIL", 0.0)
    assert all(w._small_tail(t) == len(t) for t in ("12", "250", "123456"))


def test_digits_written_small_are_smaller_than_the_others(mnist, monkeypatch) -> None:
    # The ink at the right end of all-digit strings, against the ink at the left end: about as
    # high when no digit is written small, clearly lower when the last ones are.
    import formreader.training.string_synth as synth

    def right_over_left(share: float) -> float:
        monkeypatch.setattr(synth, "SMALL_TAIL", share)
        w = _writer(mnist, seed=5)
        ratios = []
        while len(ratios) < 60:
            s = w.sample()
            if not s.text.isdigit() or len(s.text) < 2:
                continue
            cols = np.flatnonzero(s.image.max(axis=0) > 0.5)
            def height(a: int, b: int) -> int:
                rows = np.flatnonzero(s.image[:, a:b].max(axis=1) > 0.5)
                return int(rows[-1] - rows[0] + 1) if rows.size else 0
            ratios.append(height(cols[-1] - 3, cols[-1] + 1) / max(1, height(cols[0], cols[0] + 4)))
        return float(np.median(ratios))

    small, plain = right_over_left(1.0), right_over_left(0.0)
    assert small < 0.9 * plain  # measured: 0.79 against 1.0
