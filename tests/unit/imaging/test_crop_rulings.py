"""Pieces of a faint ruling in a field image (:func:`faint_ruling_pieces`): a stretch of a
column ruling or of the crease at a page's binding, dark enough to be ink beside the number
and too faint to be ink elsewhere, is not a 1. Drawn arrays for the rule, real parish crops
(development books) for what it is for."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import parish
from formreader.imaging.crop_rulings import faint_ruling_pieces
from formreader.reading.field_read import read_field_images
from formreader.results import ScanOptions


def _paper(seed: int = 0, h: int = 160, w: int = 120) -> np.ndarray:
    """Flattened paper (255) with a scanner's noise."""
    noise = np.random.default_rng(seed).normal(0.0, 3.0, (h, w))
    return np.clip(250.0 + noise, 0, 255).astype(np.float32)


def _stroke(flat: np.ndarray, x: int, y0: int, y1: int, level: float = 150.0, width: int = 3,
            tilt: float = 0.0) -> None:
    for y in range(y0, y1):
        c = int(round(x + tilt * (y - y0)))
        flat[y, c : c + width] = level


def _pieces(flat: np.ndarray) -> np.ndarray:
    img = flat.astype(np.uint8)
    return faint_ruling_pieces(img < 180, img, stroke=3.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_stroke_on_a_faint_line_that_goes_on_is_a_ruling_piece(seed) -> None:
    flat = _paper(seed)
    flat[:, 61] = 215  # the ruling, too faint to be ink, from top to bottom
    _stroke(flat, 60, 60, 100)  # its stretch dark enough to be ink, as tall as a digit
    assert _pieces(flat)[60:100, 60:63].all()


def _written_1(case: str, seed: int) -> np.ndarray:
    flat = _paper(seed)
    if case == "beside a ruling":
        flat[:, 90] = 215
    if case == "slanted, on a faint line":  # handwriting leans; a ruling does not
        for y in range(160):
            flat[y, int(round(40 + 0.4 * (y - 10)))] = 215
        _stroke(flat, 60, 60, 100, tilt=0.4)
        return flat
    _stroke(flat, 60, 60, 100)
    if case == "a tail where the pen lifted":
        flat[100:108, 61] = 215
    return flat


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", ["alone", "beside a ruling", "slanted, on a faint line",
                                  "a tail where the pen lifted"])
def test_a_written_1_is_no_ruling_piece(case, seed) -> None:
    assert not _pieces(_written_1(case, seed)).any()


def test_a_wide_mark_on_a_faint_line_is_kept() -> None:
    """A digit written across a faint ruling: a mark wider than a pen's stroke or two is
    writing, whatever lies under it."""
    flat = _paper()
    flat[:, 61] = 215
    _stroke(flat, 50, 60, 100, width=24)
    assert not _pieces(flat).any()


@pytest.mark.parametrize("name,value", [("born_K2730_0180a-FK_row_id_1.Jpg", "3"),
                                        ("born_K2732_0209a-FK_row_id_1.Jpg", "47"),
                                        ("born_K2732_0219a-FK_row_id_3.Jpg", "8")])
def test_the_dark_stretch_of_a_faint_ruling_beside_a_number_is_not_a_1(name, value, recognizer) -> None:
    """Real crops whose page crease or column ruling is ink only beside the number: both
    readers took it for a 1 and marked the field ok (13, 147, 18)."""
    if not parish.PARISH.exists():
        pytest.skip("no parish crops")
    gray = cv2.imread(str(parish.PARISH / "images" / name), cv2.IMREAD_GRAYSCALE)
    assert read_field_images([gray], recognizer, ScanOptions())[0].value == value
