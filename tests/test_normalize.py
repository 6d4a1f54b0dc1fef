"""MNIST-style normalisation on synthetic strokes: size, aspect, centre of mass, polarity."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from formreader.normalize import BOX, ink_from_gray, stroke_width, to_mnist

CENTRE = 13.5


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(img.shape)
    total = img.sum()
    return float((ys * img).sum() / total), float((xs * img).sum() / total)


def extent(img: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(img.max(axis=1) > 0.1)
    cols = np.flatnonzero(img.max(axis=0) > 0.1)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


strokes = st.builds(
    dict,
    h=st.integers(20, 300),
    w=st.integers(20, 300),
    thickness=st.integers(1, 12),
    pts=st.lists(st.tuples(st.floats(0.05, 0.95), st.floats(0.05, 0.95)), min_size=2, max_size=5),
)


def draw(spec: dict) -> np.ndarray:
    mask = np.zeros((spec["h"], spec["w"]), np.uint8)
    pts = np.array([(x * spec["w"], y * spec["h"]) for x, y in spec["pts"]], np.int32)
    cv2.polylines(mask, [pts], False, 1, spec["thickness"])
    return mask.astype(bool)


@settings(max_examples=60, deadline=None)
@given(strokes)
def test_centre_of_mass_within_one_pixel_and_fits_box(spec):
    out = to_mnist(draw(spec))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    cy, cx = centre_of_mass(out)
    # Clipping at the border can move a very lopsided shape; real digits are never that lopsided.
    assert abs(cy - CENTRE) <= 1.0 and abs(cx - CENTRE) <= 1.0
    assert max(extent(out)) <= BOX + 2


def test_aspect_ratio_is_kept():
    mask = np.zeros((200, 100), bool)
    mask[10:190, 20:80] = True  # 180 x 60: aspect 3
    h, w = extent(to_mnist(mask, fix_stroke=False))
    assert h == BOX
    assert abs(w - BOX / 3) <= 1


def test_thin_strokes_are_thickened_and_thick_ones_thinned():
    thin = np.zeros((300, 300), bool)
    cv2.circle(thin.view(np.uint8), (150, 150), 120, 1, 1)
    thick = np.zeros((300, 300), np.uint8)
    cv2.circle(thick, (150, 150), 120, 1, 60)
    for mask in (thin, thick.astype(bool)):
        out = to_mnist(mask) >= 0.5
        width = stroke_width(cv2.resize(out.astype(np.uint8), (112, 112), interpolation=cv2.INTER_NEAREST)) / 4
        assert 1.0 <= width <= 3.5, width


def test_empty_input_gives_zeros():
    assert not to_mnist(np.zeros((10, 10), bool)).any()


def test_polarity_detected_both_ways():
    digit = np.zeros((60, 40), np.uint8)
    cv2.putText(digit, "7", (5, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 255, 5)
    white_on_black = ink_from_gray(digit)
    black_on_white = ink_from_gray(255 - digit)
    assert white_on_black.sum() > 50
    np.testing.assert_array_equal(white_on_black, black_on_white)


def test_mnist_digits_survive_renormalisation(mnist):
    """Renormalising an MNIST digit barely changes it: the function does what MNIST did."""
    x = mnist.x_test[:500]
    out = np.stack([to_mnist(d >= 128) for d in x])
    diff = np.abs(out - x / 255.0).mean()
    assert diff < 0.1
