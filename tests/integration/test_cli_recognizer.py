"""`formreader predict` / `evaluate` / `train` from the command line, including error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHIPPED_MODEL

CLI = [sys.executable, "-m", "formreader.cli"]


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def digit_files(mnist, tmp_path_factory):
    """MNIST test digits as a phone photo would show them: big, black ink on light grey paper."""
    root = tmp_path_factory.mktemp("digits")
    paths, labels = [], []
    for i in range(6):
        d = mnist.x_test[i]
        big = cv2.resize(d, (140, 140), interpolation=cv2.INTER_CUBIC)
        page = np.full((220, 180), 225, np.uint8)
        page[40:180, 20:160] = np.minimum(page[40:180, 20:160], 255 - big)
        colour = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
        path = root / f"digit{i}.jpg"
        cv2.imwrite(str(path), colour)
        paths.append(path)
        labels.append(int(mnist.y_test[i]))
    inverted = root / "mnist_style.png"  # white on black, MNIST's own polarity
    cv2.imwrite(str(inverted), mnist.x_test[0])
    return paths, labels, inverted, int(mnist.y_test[0])


def test_predict_black_on_white_and_inverted(digit_files):
    paths, labels, inverted, inv_label = digit_files
    out = run("predict", "--json", "--model", str(SHIPPED_MODEL), *map(str, paths), str(inverted))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["digit"] for r in rows] == [str(v) for v in labels + [inv_label]]
    for r in rows:
        assert len(r["top3"]) == 3 and r["confidence"] == r["top3"][0]["p"] > 0.5


def test_predict_human_output(digit_files):
    paths, labels, _, _ = digit_files
    out = run("predict", "--model", str(SHIPPED_MODEL), str(paths[0]))
    assert out.returncode == 0
    assert out.stdout.startswith(f"{paths[0]}: {labels[0]} (confidence ")
    assert "top 3:" in out.stdout


def test_predict_unreadable_image_is_one_line(tmp_path, digit_files):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    out = run("predict", "--model", str(SHIPPED_MODEL), str(bad), str(digit_files[0][0]))
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and str(bad) in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout.count("\n") == 1  # the good image was still read


def test_missing_model_is_one_line(tmp_path, digit_files):
    out = run("predict", "--model", str(tmp_path / "none.keras"), str(digit_files[0][0]))
    assert out.returncode == 2
    assert "none.keras: model file not found" in out.stderr and "Traceback" not in out.stderr


def test_corrupt_model_is_one_line(tmp_path, digit_files):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 nonsense")
    out = run("predict", "--model", str(bad), str(digit_files[0][0]))
    assert out.returncode == 2
    assert "bad.keras: not a readable Keras model" in out.stderr and "Traceback" not in out.stderr


def test_evaluate_json_reproduces_the_model_card(mnist_dir, tmp_path):
    grid = tmp_path / "errors.png"
    # The card describes the model file alone, so the screen (models/digits-fast.keras) is off.
    out = run("evaluate", "--json", "--scan-style", "--mnist", str(mnist_dir), "--model", str(SHIPPED_MODEL),
              "--errors-png", str(grid), env={**os.environ, "FORMREADER_SCREEN": "off"})
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["n"] == 10000 and report["accuracy"] >= 0.996 and 0 <= report["ece"] < 0.05
    assert grid.stat().st_size > 1000
    card = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    assert report["errors"] == card["test"]["errors"]
    assert report["scan_style_test"]["errors"] == card["scan_style_test"]["errors"]
    assert report["reject"]["rejected_or_low_conf"] == pytest.approx(card["reject"]["rejected_or_low_conf"])


def test_missing_mnist_dir(tmp_path):
    out = run("evaluate", "--mnist", str(tmp_path / "nowhere"), "--model", str(SHIPPED_MODEL))
    assert out.returncode == 2
    assert "MNIST directory not found" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args", [["--help"], ["predict", "--help"], ["train", "--help"], ["evaluate", "--help"]])
def test_help_does_not_import_tensorflow(args):
    code = (
        "import sys\nfrom formreader.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("args, message", [
    (["--page-crops", "2"], "--init"),
    (["--init", "nowhere.keras"], "nowhere.keras: model file not found"),
])
def test_train_refuses_page_crops_without_a_model_to_cut_with(args, message, tmp_path):
    out = run("train", "--out", str(tmp_path / "m.keras"), *args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


PHOTOS = sorted((Path(__file__).resolve().parents[1] / "data" / "photos").glob("*.png"))


def test_predict_reads_hand_made_photos():
    """Real handwriting from the NIST form on shaded, ruled and squared paper (tests/data/photos):
    the digits read right, the letters give no confident digit, the blank page no digit."""
    assert len(PHOTOS) >= 8
    out = run("predict", "--json", "--model", str(SHIPPED_MODEL), *map(str, PHOTOS))
    assert out.returncode == 0, out.stderr
    rows = {Path(r["source"]).name: r for r in map(json.loads, out.stdout.splitlines())}
    assert set(rows) == {p.name for p in PHOTOS}
    for name, r in rows.items():
        kind, label = name.split("-")[:2]
        if kind == "digit":
            assert r["digit"] == label and r["confidence"] > 0.9, (name, r)
            assert "reason" not in r
        elif kind == "letter":
            assert r["digit"] is None or r["confidence"] < 0.9, (name, r)
        else:
            assert r["digit"] is None and r["reason"].startswith("no ink") and r["top3"] == [], (name, r)
    assert sum(r["digit"] is None for n, r in rows.items() if n.startswith("letter")) >= 2


def test_predict_human_lines_say_why_there_is_no_digit():
    blank = next(p for p in PHOTOS if p.name.startswith("blank"))
    letter = next(p for p in PHOTOS if p.name.startswith("letter-X"))
    out = run("predict", "--model", str(SHIPPED_MODEL), str(blank), str(letter))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"{blank}: no digit (no ink: ")
    assert lines[1].startswith(f"{letter}: not a digit (confidence ") and "top 3:" in lines[1]
