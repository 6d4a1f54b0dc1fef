"""The synthetic scan generator: deterministic, truthful, scan-like, MNIST test digits only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from formreader.rules.validate import aba_ok, format_amount, parse_date
from formreader.training.drawing import Digits, glyph
from formreader.training.synth import KINDS, decode, render


@pytest.fixture(scope="module")
def digits(mnist) -> Digits:
    return Digits.from_mnist(mnist.x_test, mnist.y_test)


def test_uses_the_mnist_test_split_only(mnist) -> None:
    d = Digits.load_test(mnist.source)
    assert sum(len(p) for p in d.by_label) == len(mnist.x_test) == 10_000
    # Every pooled image is a test image, none is a training image of the same label.
    train_bytes = {img.tobytes() for img in mnist.x_train[mnist.y_train == 3][:2000]}
    assert not any(img.tobytes() in train_bytes for img in d.by_label[3])


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_bytes(kind: str, digits: Digits) -> None:
    a, ta = render(kind, 7, digits, 150)
    b, tb = render(kind, 7, digits, 150)
    c, _ = render(kind, 8, digits, 150)
    assert a == b and ta == tb
    assert a != c


@pytest.mark.parametrize("kind", KINDS)
def test_looks_like_a_scan(kind: str, digits: Digits) -> None:
    jpeg, truth = render(kind, 3, digits, 200)
    assert jpeg[:2] == b"\xff\xd8"  # the scanner's JPEG, artefacts included
    gray = decode(jpeg)
    assert gray.shape == (truth["height"], truth["width"])
    paper = np.percentile(gray, 75)
    assert 170 <= paper <= 250, "grey paper, not pure white"
    assert np.percentile(gray, 0.5) < 100, "dark ink present"
    assert abs(truth["skew_deg"]) <= 2.0
    noise = np.std(gray[gray > paper - 10].astype(float))
    assert noise > 1.0, "scanner noise"
    for f in truth["fields"]:
        x, y, w, h = f["bbox"]
        assert 0 <= x and 0 <= y and x + w <= gray.shape[1] and y + h <= gray.shape[0]
        crop = gray[y : y + h, x : x + w]
        if f["value"]:
            assert crop.min() < paper - 80, f"{f['name']}: its handwriting is inside its bbox"


def test_truth_is_consistent(digits: Digits) -> None:
    for seed in range(5):
        cheque = {f["name"]: f for f in render("cheque", seed, digits, 150)[1]["fields"]}
        assert aba_ok(cheque["routing"]["value"])
        assert parse_date(cheque["date"]["value"], "MMDDYYYY").isoformat() == cheque["date"]["text"]
        assert format_amount(cheque["amount"]["value"]) == cheque["amount"]["text"]
        postal = {f["name"]: f["value"] for f in render("postal", seed, digits, 150)[1]["fields"]}
        assert len(postal["zip"]) == 5 and len(postal["plus4"]) in (0, 4)
        hsf = render("hsf", seed, digits, 150)[1]["fields"]
        assert len(hsf) == 28 and [f["value"] for f in hsf[:3]] == ["0123456789"] * 3
        assert all(2 <= len(f["value"]) <= 6 for f in hsf[3:])


def test_resolution_scales_the_page(digits: Digits) -> None:
    _, low = render("cheque", 1, digits, 150)
    _, high = render("cheque", 1, digits, 300)
    assert high["width"] == pytest.approx(2 * low["width"], abs=2)


def test_glyph_varies_stroke_width_and_slant(digits: Digits) -> None:
    img = digits.by_label[1][0]
    thick = glyph(img, 60, 0.0, 0.2)
    thin = glyph(img, 60, 0.0, 0.6)
    assert thick.sum() > 1.3 * thin.sum()
    upright = glyph(img, 60, 0.0, 0.4)
    slanted = glyph(img, 60, 0.3, 0.4)
    assert slanted.shape[0] == upright.shape[0] and slanted.shape[1] > upright.shape[1]


def test_write_samples_and_cli(tmp_path: Path, mnist_dir: Path) -> None:
    from formreader.cli import app

    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path), "--kind", "postal", "--count", "2",
                                      "--seed", "5", "--dpi", "150", "--mnist", str(mnist_dir)])
    assert result.exit_code == 0, result.output
    images = sorted(tmp_path.glob("*.jpg"))
    assert [p.name for p in images] == ["postal-000.jpg", "postal-001.jpg"]
    truth = json.loads((tmp_path / "postal-001.truth.json").read_text())
    assert truth["seed"] == 6 and truth["image"] == "postal-001.jpg" and truth["dpi"] == 150
    bad = CliRunner().invoke(app, ["synth", "--out", str(tmp_path), "--kind", "lottery"])
    assert bad.exit_code == 2 and "--kind: unknown 'lottery'" in bad.output
