"""Pages scanned upside down or sideways are turned upright and read as the upright page is, or
their fields are in review; never a confident wrong number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import formreader
from formreader.io.pages import load_gray
from formreader.reading.orient import evidence, turn
from formreader.results import Digit, Field

ROOT = Path(__file__).resolve().parents[2]
NIST = ROOT.parent / "shared" / "data" / "scans" / "nist-hsf-f0000.png"
SAMPLES = ["cheque-001.jpg", "hsf-002.jpg", "numbers-003.jpg", "postal-005.jpg", "numbers-006.jpg"]


def test_turn_is_clockwise_and_undoes_itself() -> None:
    page = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert turn(page, 90).tolist() == [[3, 0], [4, 1], [5, 2]]
    for degrees in (90, 180, 270):
        assert np.array_equal(turn(turn(page, degrees), 360 - degrees), page)


def test_evidence_counts_sure_digits_and_discounts_doubtful_ones() -> None:
    def reading(*conf: float) -> list[Field]:
        return [Field("f", "", min(conf), "ok", (0, 0, 1, 1), [Digit("1", c, (0, 0, 1, 1)) for c in conf])]

    assert evidence(reading(0.99, 0.98)) > evidence(reading(0.9, 0.9)) > evidence(reading(0.6, 0.6, 0.6, 0.6))
    assert evidence(reading(0.4, 0.3)) < 0


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLES)
def test_turned_samples_read_as_upright_or_review(name: str) -> None:
    gray = load_gray(ROOT / "samples" / name)
    upright = {f.name: f.value for f in formreader.read(gray)[0].fields}
    for k in (1, 2, 3):  # numpy turns counter-clockwise: the page needs 90 * k degrees clockwise
        page = formreader.read(np.ascontiguousarray(np.rot90(gray, k)))[0]
        for f in page.fields:
            assert f.status != "ok" or upright.get(f.name) == f.value, (name, k, f.name, f.value)
        if page.rotation == 90 * k:
            assert {f.name: f.value for f in page.fields} == upright, (name, k)


@pytest.mark.slow
def test_the_nist_page_upside_down_is_read_whole() -> None:
    gray = load_gray(NIST)
    upright = formreader.read(gray)[0]
    turned = formreader.read(turn(gray, 180))[0]
    assert turned.rotation == 180 and (turned.width, turned.height) == (upright.width, upright.height)
    assert [(f.name, f.value, f.status) for f in turned.fields] == [(f.name, f.value, f.status) for f in upright.fields]
    assert upright.rotation == 0 and "rotation" not in upright.to_dict()
