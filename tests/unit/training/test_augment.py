"""Training augmentation: scan-style digits stay digits, elastic warps bend but do not tear,
and a seed fixes every draw."""

from __future__ import annotations

import numpy as np
import pytest

from formreader.imaging.normalize import to_mnist
from formreader.recognizer.strings import strip_of
from formreader.training.augment import _scan, elastic, mild, scan_digit, scan_mask, shaded


def _bar(h: int = 40, w: int = 40) -> np.ndarray:
    img = np.zeros((h, w), np.float32)
    img[8:32, 18:22] = 1.0
    return img


@pytest.mark.parametrize("alpha", [0.5, 2.0, 3.0])
def test_elastic_moves_no_pixel_further_than_alpha(alpha):
    # A vertical bar warped by at most alpha px stays inside the bar grown by alpha px.
    img = _bar()
    out = elastic(img, np.random.default_rng(0), alpha=alpha, sigma=4.0)
    assert out.shape == img.shape and out.dtype == np.float32
    pad = int(np.ceil(alpha)) + 1
    outside = np.ones_like(img, bool)
    outside[8 - pad : 32 + pad, 18 - pad : 22 + pad] = False
    assert out[outside].max() == 0.0
    assert abs(out.sum() - img.sum()) < 0.2 * img.sum()  # ink is moved, not lost


def test_elastic_is_a_function_of_the_seed():
    img = _bar()
    a = elastic(img, np.random.default_rng(3), alpha=2.0, sigma=4.0)
    b = elastic(img, np.random.default_rng(3), alpha=2.0, sigma=4.0)
    c = elastic(img, np.random.default_rng(4), alpha=2.0, sigma=4.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_blank_stays_blank():
    assert elastic(np.zeros((28, 28), np.float32), np.random.default_rng(0), 3.0, 4.0).max() == 0.0


def test_no_warp_draws_nothing_extra(mnist):
    # Evaluation sets are drawn with warp=0; they must be the ones earlier models were scored on.
    digit = mnist.x_test[0]
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(scan_digit(digit, rng_a), scan_digit(digit, rng_b, warp=0.0, grey=0.0))
    np.testing.assert_array_equal(mild(digit, rng_a), mild(digit, rng_b, warp=0.0))
    assert rng_a.random() == rng_b.random()


@pytest.mark.parametrize("warp", [0.0, 1.0])
def test_scan_digits_are_mnist_shaped(mnist, warp):
    rng = np.random.default_rng(1)
    for digit in mnist.x_test[:20]:
        mask = scan_mask(digit, rng, warp)
        assert mask.dtype == bool and mask.any()  # a digit drawn is never blank
        out = scan_digit(digit, rng, warp)
        assert out.shape == (28, 28) and 0.0 <= out.min() and out.max() <= 1.0
        ys, xs = np.nonzero(out > 0)
        assert max(np.ptp(ys), np.ptp(xs)) <= 21  # the 20x20 box, and a pixel of anti-aliasing
        w = out / out.sum()
        cy, cx = (w * np.arange(28)[:, None]).sum(), (w * np.arange(28)[None, :]).sum()
        assert abs(cy - 13.5) < 2.0 and abs(cx - 13.5) < 2.0


def test_a_shaded_scan_digit_keeps_its_binary_shape(mnist):
    """``grey=1`` shades the very mask ``grey=0`` would give (same draws up to the shading)."""
    digit = mnist.x_test[3]
    binary = scan_digit(digit, np.random.default_rng(5), grey=0.0)
    rng = np.random.default_rng(5)
    img, mask = _scan(digit, rng)
    np.testing.assert_array_equal(mask, scan_mask(digit, np.random.default_rng(5)))
    np.testing.assert_array_equal(shaded(img, mask, np.random.default_rng(0)) >= 0.5, mask)
    assert rng.random() < 1.0  # the draw grey=1 makes, always shaded
    shaded_crop = to_mnist(shaded(img, mask, rng))
    np.testing.assert_array_equal(shaded_crop, scan_digit(digit, np.random.default_rng(5), grey=1.0))
    soft = ((shaded_crop > 0.05) & (shaded_crop < 0.95)).sum()
    assert soft > ((binary > 0.05) & (binary < 0.95)).sum()


def test_a_jittered_strip_keeps_its_height_its_ink_and_its_writing_in_place():
    from formreader.recognizer.strings import HEIGHT
    from formreader.training.augment import jitter_strip

    mask = np.zeros((60, 140), bool)
    mask[10:50, 20:30] = True  # a "1" and a square "0"
    mask[10:50, 60:100] = True
    mask[20:40, 70:90] = False
    strip = strip_of(mask, 40.0).image
    for seed in range(20):
        out = jitter_strip(strip, np.random.default_rng(seed))
        assert out.shape[0] == HEIGHT and out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
        assert 0.6 * strip.sum() < out.sum() < 1.9 * strip.sum()
        assert 0.8 * strip.shape[1] < out.shape[1] < 1.3 * strip.shape[1]
        rows = np.flatnonzero(out.sum(axis=1) > 0.5)
        assert rows[0] > 0 and rows[-1] < HEIGHT - 1  # the digits are never pushed off the strip
    assert np.array_equal(jitter_strip(strip, np.random.default_rng(3)), jitter_strip(strip, np.random.default_rng(3)))
