"""MNIST-style normalisation on synthetic strokes: size, aspect, centre of mass, polarity."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from formreader.imaging.normalize import (BOX, FRINGE_MAX, _fix_stroke, field_darkness, ink_from_gray, shade,
                                          stroke_width, to_mnist)

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


def blurred_page(spec: dict, paper: int, ink: int, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """A stroke drawn on paper as a scanner sees it (grey, blurred) and Otsu's mask of it."""
    mask = draw(spec).astype(np.float32)
    gray = (paper - (paper - ink) * cv2.GaussianBlur(mask, (0, 0), sigma)).round().astype(np.uint8)
    _, binary = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return gray, binary.astype(bool)


@settings(max_examples=40, deadline=None)
@given(strokes, st.integers(150, 255), st.integers(0, 100), st.floats(0.3, 2.0))
def test_shading_keeps_the_binary_mark_exactly(spec, paper, ink, sigma):
    gray, mask = blurred_page(spec, paper, ink, sigma)
    dark = field_darkness(gray, mask)
    if dark is None:  # nothing binarized, or no paper
        return
    assert dark.dtype == np.float32 and 0.0 <= dark.min() and dark.max() <= 1.0
    fringe = cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    shaded = shade(dark, mask, fringe)
    np.testing.assert_array_equal(shaded >= 0.5, mask)  # the mark's shape is the mask's
    assert shaded[fringe & ~mask].max(initial=0.0) <= FRINGE_MAX
    assert not shaded[~fringe].any()


def test_darkness_is_scaled_to_the_field():
    gray = np.full((40, 60), 200, np.uint8)
    gray[10:30, 20:24] = 40  # a stroke
    gray[10:30, 24] = 120  # its soft edge
    gray[0:2, :] = 0  # a ruling, darker than any stroke
    ink = gray < 100
    others = np.zeros_like(ink)
    others[0:2, :] = True
    ink &= ~others
    dark = field_darkness(gray, ink, others)
    assert dark is not None
    assert dark[20, 21] == 1.0 and dark[35, 50] == 0.0
    assert abs(dark[20, 24] - 0.5) < 1e-6  # halfway between paper and stroke
    assert not dark[0:2].any()  # a ruling is nobody's edge
    # A light pen on light paper reads the same as a dark one: the scale is the field's own.
    light = field_darkness((255 - (255 - gray.astype(int)) // 4).astype(np.uint8), ink, others)
    assert light is not None and light[20, 21] == 1.0 and abs(light[20, 24] - 0.5) < 0.05


def test_no_darkness_without_contrast_or_writing():
    flat = np.full((20, 20), 128, np.uint8)
    ink = np.zeros((20, 20), bool)
    ink[5:15, 9:11] = True
    assert field_darkness(flat, ink) is None  # a bilevel mark on flat grey: nothing to scale by
    assert field_darkness(flat, np.zeros_like(ink)) is None
    assert field_darkness(flat, np.ones_like(ink)) is None


@settings(max_examples=40, deadline=None)
@given(strokes, st.floats(0.3, 2.0))
def test_a_shaded_stroke_is_thickened_or_thinned_with_its_mask(spec, sigma):
    gray, mask = blurred_page(spec, 230, 20, sigma)
    dark = field_darkness(gray, mask)
    if dark is None or not mask.any():
        return
    shaded = shade(dark, mask, cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool))
    ys, xs = np.nonzero(mask)
    m, g = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1], shaded[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    scale = BOX / max(m.shape)
    by_mask, by_grey = _fix_stroke(m, scale), _fix_stroke(m, scale, g)
    assert (by_mask is None) == (by_grey is None)
    if by_mask is not None:
        np.testing.assert_array_equal(by_grey >= 0.5, by_mask)
    out = to_mnist(shaded)
    assert out.shape == (28, 28) and 0.0 <= out.min() and out.max() <= 1.0
