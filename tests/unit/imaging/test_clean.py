"""Page clean-up on synthetic pages: binarization under even and uneven light, deskew, specks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formreader.imaging import clean, deskew
from formreader.imaging.geometry import map_rect
from synthpage import INK, PAPER, uneven_lighting


def ruled_page(w: int = 600, h: int = 780) -> np.ndarray:
    """Lines of 'text' (short dashes) and box rulings: what a form's skew is measured on."""
    g = np.full((h, w), PAPER, np.uint8)
    for y in range(60, h - 60, 45):
        for x in range(40, w - 60, 22):
            cv2.rectangle(g, (x, y), (x + 14, y + 12), INK, -1 if (x // 22) % 3 else 2)
    cv2.rectangle(g, (30, 30), (w - 30, h - 30), INK, 2)
    return g


def strokes_page() -> tuple[np.ndarray, np.ndarray]:
    """A page of pen strokes and the ink truth."""
    truth = np.zeros((300, 400), np.uint8)
    for i in range(8):
        cv2.line(truth, (20 + 45 * i, 30), (50 + 45 * i, 270), 1, 3)
        cv2.circle(truth, (40 + 45 * i, 150), 15, 1, 2)
    gray = np.where(truth > 0, INK, PAPER).astype(np.uint8)
    return gray, truth.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_blank_page_has_no_ink_with_every_method() -> None:
    rng = np.random.default_rng(0)
    paper = (PAPER + rng.normal(0, 2, (200, 150))).clip(0, 255).astype(np.uint8)
    for method in ("otsu", "sauvola", "auto"):
        mask, _ = clean.binarize(paper, method)
        assert not mask.any(), method


def test_even_light_uses_otsu_and_recovers_the_strokes() -> None:
    gray, truth = strokes_page()
    mask, method = clean.binarize(gray)
    assert method == "otsu"
    assert iou(mask, truth) > 0.95


def test_uneven_light_switches_to_sauvola_and_beats_otsu() -> None:
    gray, truth = strokes_page()
    shaded = uneven_lighting(gray, strength=0.75)
    mask, method = clean.binarize(shaded)
    assert method == "sauvola"
    otsu_iou = iou(clean.otsu(shaded), truth)
    auto_iou = iou(mask, truth)
    print(f"uneven light: Otsu IoU {otsu_iou:.3f}, auto ({method}) IoU {auto_iou:.3f}")
    assert auto_iou > 0.85
    assert auto_iou > otsu_iou + 0.1


@settings(max_examples=25, deadline=None)
@given(offset=st.integers(-60, 0), seed=st.integers(0, 1000))
def test_otsu_ignores_a_uniform_change_of_brightness(offset: int, seed: int) -> None:
    """A darker scan of the same page (no clipping) gives the same ink."""
    rng = np.random.default_rng(seed)
    g = np.full((40, 50), 220, np.int16)
    for _ in range(4):
        x, y = rng.integers(0, 40), rng.integers(0, 30)
        g[y : y + 8, x : x + 3] = 80  # stays above 0 after any offset: no clipping
    base = clean.otsu(g.astype(np.uint8))
    shifted = clean.otsu((g + offset).astype(np.uint8))
    assert np.array_equal(base, shifted)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=64), st.sampled_from(["otsu", "sauvola"]))
def test_binarize_returns_a_mask_of_the_page_shape(values: list[int], method: str) -> None:
    g = np.resize(np.array(values, np.uint8), (12, 16))
    mask, used = clean.binarize(g, method)
    assert used == method and mask.dtype == bool and mask.shape == g.shape
    # Ink is never lighter than paper: every ink pixel is at most as bright as any non-ink one
    # under a global threshold.
    if method == "otsu" and mask.any() and (~mask).any():
        assert g[mask].max() < g[~mask].min()


@settings(max_examples=12, deadline=None)
@given(angle=st.floats(-15, 15))
def test_estimate_skew_undoes_a_rotation(angle: float) -> None:
    page = ruled_page()
    rotated, _ = deskew.rotate(page, angle)
    found = deskew.estimate_skew(clean.otsu(rotated))
    assert abs(found + angle) <= 0.25


def test_clean_page_deskews_and_maps_back_to_the_source() -> None:
    page = ruled_page()
    rotated, _ = deskew.rotate(page, 6.0)
    cp = clean.clean_page(rotated)
    assert abs(cp.angle + 6.0) <= 0.25
    # The page's frame is axis-aligned again: its top ruling is one horizontal run.
    rows = cp.mask.sum(axis=1)
    assert rows.max() > 0.7 * (page.shape[1] - 60)
    # A point maps to the working page and back onto itself.
    pt = np.array([123.0, 456.0, 1.0])
    there = cp.to_work @ pt
    back = cp.from_work @ np.append(there, 1.0)
    assert np.allclose(back, pt[:2], atol=1e-6)


def test_big_pages_are_worked_at_reduced_resolution() -> None:
    assert clean.work_scale((3300, 2560)) < 1.0
    assert clean.work_scale((1100, 850)) == 1.0
    cp = clean.clean_page(np.full((3300, 2550), PAPER, np.uint8))
    assert max(cp.mask.shape) <= clean.WORK_LONG_SIDE + 1


@settings(max_examples=25, deadline=None)
@given(h=st.integers(300, 1400), w=st.integers(300, 1400), long_side=st.integers(150, 700),
       seed=st.integers(0, 99))
def test_reduce_is_an_area_resize_and_maps_points_where_they_land(h: int, w: int, long_side: int,
                                                                   seed: int) -> None:
    """Whole-block reduction then a small bicubic step: the size and picture of one area resize,
    and a dot in the source lands where the returned matrix sends it."""
    scale = clean.work_scale((h, w), long_side)
    if scale >= 1.0:
        return
    rng = np.random.default_rng(seed)
    page = np.full((h, w), PAPER, np.uint8)
    y, x = int(rng.integers(10, h - 10)), int(rng.integers(10, w - 10))
    r = max(3, int(round(1.5 / scale)))  # a dot a few working pixels wide
    cv2.circle(page, (x, y), r, INK, -1)
    work, to_work = clean.reduce(page, scale)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    area = cv2.resize(page, size, interpolation=cv2.INTER_AREA)
    assert work.shape == area.shape
    assert np.abs(work.astype(int) - area).mean() < 3.0
    ys, xs = np.nonzero(work < (INK + PAPER) // 2)
    px, py = to_work @ np.array([x + 0.5, y + 0.5, 1.0])  # pixel centres: (i + 0.5) / scale
    assert abs(xs.mean() + 0.5 - px) <= 1.0 and abs(ys.mean() + 0.5 - py) <= 1.0


def test_remove_specks_keeps_strokes_and_drops_dust() -> None:
    mask = np.zeros((60, 60), bool)
    mask[10:50, 20:23] = True  # a stroke
    mask[5, 5] = mask[40, 50] = True  # dust
    mask[30:32, 40:42] = True  # 4 px of dust
    out = clean.remove_specks(mask, clean.speck_area((4000, 4000)))
    assert out[10:50, 20:23].all()
    assert out.sum() == 120


def test_map_rect_of_a_rotation_contains_the_rotated_corners() -> None:
    m, _ = deskew.rotation_matrix((100, 200), 10.0)
    x, y, w, h = map_rect((50, 20, 40, 30), m)
    corners = np.array([[50, 20, 1], [90, 20, 1], [50, 50, 1], [90, 50, 1]], float) @ m.T
    assert (corners[:, 0] >= x - 1e-9).all() and (corners[:, 0] <= x + w + 1e-9).all()
    assert (corners[:, 1] >= y - 1e-9).all() and (corners[:, 1] <= y + h + 1e-9).all()


def test_clean_page_rejects_colour_input() -> None:
    with pytest.raises(ValueError, match="2-D uint8"):
        clean.clean_page(np.zeros((10, 10, 3), np.uint8))


# --- speed-ups that must not change a bit ---------------------------------------------------------


def random_mask(seed: int, shape: tuple[int, int] = (120, 160)) -> np.ndarray:
    """Speckle plus a few long strokes and rulings: short and long runs of ink."""
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < rng.uniform(0.0, 0.3)
    for _ in range(rng.integers(0, 6)):
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        mask[y : y + rng.integers(1, 4), x : x + rng.integers(1, shape[1])] = True
        mask[y : y + rng.integers(1, shape[0]), x : x + rng.integers(1, 4)] = True
    return mask


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), angles=st.lists(st.floats(-15, 15), min_size=1, max_size=6))
def test_skew_scores_by_runs_are_the_per_pixel_scores_bit_for_bit(seed: int, angles: list[float]) -> None:
    mask = random_mask(seed)
    ys, xs = deskew._ink_pixels(mask)
    ref_ys, ref_xs = np.nonzero(mask)
    assert np.array_equal(ys, ref_ys) and np.array_equal(xs, ref_xs)
    if ys.size == 0:
        return
    a = np.round(np.array(angles + [0.0, 0.05, -0.05]), 4)
    expected = deskew._profile_score(ys.astype(np.float64), xs.astype(np.float64), a)
    runs = deskew._row_runs(ys, xs)
    assert runs[3].sum() == ys.size
    np.testing.assert_array_equal(deskew._run_profile_score(runs, ys, xs, a), expected)
    np.testing.assert_array_equal(deskew._skew_scores(ys, xs, runs, a), expected)


def test_components_number_and_measure_as_opencv_default() -> None:
    """16-bit labels on crops and on pages with fewer than 65,000 runs of ink however much ink
    they hold, 32-bit BBDT on pages with more runs: the same labels and stats as
    ``cv2.connectedComponentsWithStats``, for bool and 0/255 masks."""
    dense = np.random.default_rng(3).random((600, 500)) < 0.45  # > 65,000 runs of ink
    bars = np.zeros((700, 700), bool)  # 280,000 ink pixels in 2,800 runs
    bars[::10] = bars[1::10] = bars[2::10] = bars[3::10] = True
    bars[:, 300:305] = True  # joins them into one component
    bars[5, 400] = True  # and one speck of its own
    cases = [(random_mask(1), np.uint16), (random_mask(2, (40, 300)), np.uint16), (dense, np.int32),
             (bars, np.uint16), (np.zeros((5, 7), bool), np.uint16)]
    for mask, dtype in cases + [(m.astype(np.uint8) * 255, d) for m, d in cases]:
        n, labels, stats = clean.components(mask)
        n_ref, labels_ref, stats_ref, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
        assert labels.dtype == dtype
        assert n == n_ref
        np.testing.assert_array_equal(labels, labels_ref)
        np.testing.assert_array_equal(stats, stats_ref)
    assert clean.components(bars)[0] == 3


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), strength=st.floats(0.0, 0.8))
def test_lighting_check_shortcut_agrees_with_the_full_size_background(seed: int, strength: float) -> None:
    gray, _ = strokes_page()
    gray = uneven_lighting(gray, strength=strength) if strength > 0 else gray
    noise = np.random.default_rng(seed).normal(0, 6, gray.shape)
    gray = np.clip(gray + noise, 0, 255).astype(np.uint8)
    bg = clean.estimate_background(gray)
    lo, hi = np.percentile(bg, [2, 98])
    ink = np.percentile(gray, 1)
    expected = (float(hi) - float(lo)) > 0.15 * max(float(hi) - float(ink), 1.0)
    assert clean.lighting_is_uneven(gray) == expected
    assert clean.lighting_is_uneven(gray, hist=clean.histogram(gray)) == expected


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=2, max_size=64))
def test_otsu_mask_is_the_pixels_at_or_below_the_threshold(values: list[int]) -> None:
    g = np.resize(np.array(values, np.uint8), (12, 16))
    t = clean._otsu_threshold(g)
    expected = np.zeros(g.shape, bool) if t is None else g <= t
    np.testing.assert_array_equal(clean.otsu(g), expected)
    np.testing.assert_array_equal(clean._otsu(g, clean.histogram(g)), expected)


def test_clean_page_is_deterministic() -> None:
    page = ruled_page()
    rotated, _ = deskew.rotate(page, 2.3)
    a, b = clean.clean_page(rotated), clean.clean_page(rotated.copy())
    assert a.angle == b.angle and a.method == b.method
    assert a.mask.tobytes() == b.mask.tobytes() and a.gray.tobytes() == b.gray.tobytes()


@pytest.mark.parametrize("window", [3, 15, 83])
def test_sauvola_threshold_is_scikit_images_to_the_bit(window: int) -> None:
    """Our box-filter Sauvola gives exactly scikit-image's numbers (which reading no longer needs)."""
    from skimage.filters import threshold_sauvola

    from formreader.imaging.clean import sauvola_threshold
    from formreader.io.pages import load_gray

    rng = np.random.default_rng(window)
    images = [load_gray(Path(__file__).resolve().parents[3] / "samples" / "cheque-000.jpg"),
              rng.integers(0, 256, (61, 47), dtype=np.uint8), np.full((9, 12), 200, np.uint8)]
    for gray in images:
        assert np.array_equal(sauvola_threshold(gray, window), threshold_sauvola(gray, window_size=window, k=0.2))
