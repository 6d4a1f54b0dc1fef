"""Shipped pipelines end to end: outputs, review report, registration, failures to review."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from formreader.config import load_pipeline
from formreader.driver.pipeline import run
from formreader.reading.zones import read_named
from formreader.rules.validate import luhn_ok

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
PIPELINES = sorted((ROOT / "pipelines").glob("*.yaml"))
HSF_TRUTH = ("0123456789 0123456789 0123456789 16 899 0124 43744 403875 821 7358 55925 116213 86 "
             "4949 20044 625502 80 681 79192 676687 49 213 3055 803797 02 791 3678 03536").split()


def outputs_to(tmp_path: Path) -> list[str]:
    return [f"outputs.csv={tmp_path / 'r.csv'}", f"outputs.json={tmp_path / 'r.json'}",
            f"outputs.review={tmp_path / 'review.html'}", f"outputs.overlays={tmp_path / 'ov'}"]


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.stem)
def test_shipped_pipeline_runs_and_writes_every_output(path: Path, tmp_path: Path, recognizer) -> None:
    first = sorted(load_pipeline(path).files)[0]
    loaded = load_pipeline(path, [f"inputs={first}", *outputs_to(tmp_path)])
    pages, summary = run(loaded, recognizer)
    names = [f.name for f in loaded.spec.fields]
    assert len(pages) == 1 and pages[0].ok
    assert [f.name for f in pages[0].fields] == names
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["field"] for r in rows] == names
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [f["name"] for f in doc["pages"][0]["fields"]] == names
    for f in pages[0].fields:
        assert f.status in ("ok", "review") and (f.status == "ok") == (f.reason is None)
    html = (tmp_path / "review.html").read_text()
    flagged = [f for f in pages[0].fields if f.status == "review"]
    assert summary.review == len(flagged) == html.count("<img ")
    for png in re.findall(r'src="data:image/png;base64,([^"]+)"', html):
        crop = cv2.imdecode(np.frombuffer(base64.b64decode(png), np.uint8), cv2.IMREAD_UNCHANGED)
        assert crop is not None and crop.ndim == 2 and crop.shape[0] > 10
    assert len(list((tmp_path / "ov").glob("*.png"))) == 1


def test_outputs_are_byte_for_byte_deterministic(tmp_path: Path, recognizer) -> None:
    blobs = []
    for run_dir in (tmp_path / "a", tmp_path / "b"):
        run_dir.mkdir()
        loaded = load_pipeline(ROOT / "pipelines" / "cheque.yaml", outputs_to(run_dir)[:3])
        run(loaded, recognizer)
        blobs.append([(run_dir / n).read_bytes() for n in ("r.csv", "r.json", "review.html")])
    assert blobs[0] == blobs[1]


def _warp(gray: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    h, w = gray.shape
    m = np.float32([[scale, 0, dx * w], [0, scale, dy * h]])
    paper = int(np.percentile(gray, 90))
    return cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=paper)


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


@pytest.mark.parametrize("name, kind", [("cheque", "cheque"), ("postal", "postal"), ("forms", "numbers")])
def test_zones_follow_a_shifted_and_scaled_page(name: str, kind: str, recognizer) -> None:
    """Move the page by a few percent: every field is found where the page moved it and reads
    the same (resampling may only turn a doubtful digit into a review)."""
    spec = load_pipeline(ROOT / "pipelines" / f"{name}.yaml").spec
    gray = cv2.imread(str(SAMPLES / f"{kind}-001.jpg"), cv2.IMREAD_GRAYSCALE)
    base = read_named(gray, recognizer, spec)
    assert all(f.value for f in base if f.name != "plus4")
    for scale, dx, dy in ((0.96, 0.03, 0.02), (1.0, -0.02, -0.03)):
        moved = read_named(_warp(gray, scale, dx, dy), recognizer, spec)
        h, w = gray.shape
        for a, b in zip(base, moved):
            x, y, bw, bh = a.bbox
            expect = (int(x * scale + dx * w), int(y * scale + dy * h), int(bw * scale), int(bh * scale))
            assert _iou(expect, b.bbox) > 0.75, (a.name, scale, dx, dy)
            assert b.value, (a.name, scale, dx, dy)
            if a.status == b.status == "ok":
                assert a.value == b.value, (a.name, a.value, b.value)


def test_hsf_pipeline_reads_the_real_nist_form(nist_scan: Path, recognizer) -> None:
    loaded = load_pipeline(ROOT / "pipelines" / "nist-hsf.yaml", [f"inputs={nist_scan}", "outputs.csv=",
                                                                   "outputs.json=", "outputs.overlays=", "outputs.review="])
    pages, _ = run(loaded, recognizer)
    fields = pages[0].fields
    assert [f.name for f in fields][:4] == ["r1c1", "r1c2", "r1c3", "r2c1"] and len(fields) == 28
    right = sum(f.value == t for f, t in zip(fields, HSF_TRUTH))
    print(f"\nNIST HSF f0000: {right}/28 fields exact: {[f.value for f in fields]}")
    assert right == 28  # measured with the shipped model: every field exact, none needs review
    assert all(f.status == "ok" for f in fields)


def test_hsf_pipeline_on_a_page_with_too_few_boxes_reports_each_missing_field(recognizer) -> None:
    spec = load_pipeline(ROOT / "pipelines" / "nist-hsf.yaml").spec
    gray = cv2.imread(str(SAMPLES / "postal-000.jpg"), cv2.IMREAD_GRAYSCALE)
    fields = read_named(gray, recognizer, spec)
    assert len(fields) == 28
    assert fields[-1].status == "review" and re.fullmatch(
        r"box \[7, 5\] not found \(the page has \d lines of boxes, the pipeline names 7: which is which is uncertain\)",
        fields[-1].reason or "")


def test_a_missed_box_sends_its_line_to_review_and_no_other(recognizer) -> None:
    """A box the scanner cannot find (on held-out pages: bold digits fused with its sides) must
    not move every later field onto its neighbour's box: only its own line is in doubt."""
    spec = load_pipeline(ROOT / "pipelines" / "nist-hsf.yaml").spec
    gray = cv2.imread(str(SAMPLES / "hsf-000.jpg"), cv2.IMREAD_GRAYSCALE)
    before = {f.name: f for f in read_named(gray, recognizer, spec)}
    truth = json.loads((SAMPLES / "hsf-000.truth.json").read_text())
    x, y, w, h = next(f["bbox"] for f in truth["fields"] if f["name"] == "r4c3")
    erased = gray.copy()
    erased[y - 6 : y + h + 6, x - 6 : x + w + 6] = int(np.median(gray))  # the box and its digits gone
    after = {f.name: f for f in read_named(erased, recognizer, spec)}
    doubt = "line 5 of boxes has 4 boxes, the pipeline names 5: which is which is uncertain"
    for name in ("r4c1", "r4c2", "r4c3", "r4c4"):
        assert after[name].status == "review" and doubt in (after[name].reason or ""), name
    assert after["r4c3"].value == before["r4c4"].value  # the neighbour's box, but flagged
    assert after["r4c5"].value == "" and after["r4c5"].reason == f"box [5, 5] not found ({doubt})"
    for name, field in after.items():
        if not name.startswith("r4"):
            assert (field.value, field.status) == (before[name].value, before[name].status), name


def test_unregistered_page_sends_every_field_to_review(recognizer) -> None:
    spec = load_pipeline(ROOT / "pipelines" / "forms.yaml").spec
    blank = np.full((600, 1000), 230, np.uint8)
    fields = read_named(blank, recognizer, spec)
    assert [f.status for f in fields] == ["review"] * 4
    assert all(f.reason and "page not registered: no four corner marks found" in f.reason for f in fields)


def test_a_failing_rule_sends_a_read_field_to_review(tmp_path: Path, recognizer) -> None:
    samples = []
    for t in sorted(SAMPLES.glob("cheque-*.truth.json")):
        truth = {f["name"]: f["value"] for f in json.loads(t.read_text())["fields"]}
        if not luhn_ok(truth["routing"]):
            samples.append(t.name.replace(".truth.json", ".jpg"))
    loaded = load_pipeline(ROOT / "pipelines" / "cheque.yaml",
                           [f"inputs={SAMPLES / samples[0]}", "fields.2.checksum=luhn", "outputs.csv=",
                            "outputs.json=", "outputs.overlays=", "outputs.review="])
    routing = run(loaded, recognizer)[0][0].fields[2]
    assert routing.status == "review" and "Luhn checksum failed" in (routing.reason or "")


def test_review_page_escapes_and_embeds_crops() -> None:
    from formreader.output.review import ReviewItem, crop_png, render
    from formreader.results import Field

    gray = np.full((200, 300), 220, np.uint8)
    cv2.putText(gray, "42", (100, 120), cv2.FONT_HERSHEY_SIMPLEX, 2, 0, 4)
    f = Field("zip", "42", 0.51, "review", (90, 70, 110, 60), reason="2 digits, expected 5")
    png = crop_png(gray, f.bbox)
    crop = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert crop.shape == (90, 140) and crop.min() == 0  # the field plus a quarter-height margin
    html = render([ReviewItem("scans/<odd>&name.png", 3, f, png)])
    assert "scans/&lt;odd&gt;&amp;name.png" in html and "<odd>" not in html
    assert "2 digits, expected 5" in html and "0.51" in html
    assert html.count("data:image/png;base64,") == 1
    assert "Nothing to review." in render([])


def test_free_and_auto_modes_name_the_nth_number(nist_scan: Path, recognizer) -> None:
    from formreader.config import validate

    gray = cv2.imread(str(nist_scan), cv2.IMREAD_GRAYSCALE)
    fields = [{"name": n, "index": i} for n, i in (("first", 0), ("sixteen", 3), ("last", 27), ("beyond", 28))]
    spec = validate({"inputs": ["x"], "layout": {"mode": "auto"}, "fields": fields}, check_files=False).spec
    got = read_named(gray, recognizer, spec)
    assert [f.value for f in got] == ["0123456789", "16", "03536", ""]
    assert got[3].status == "review" and got[3].reason == "number 28 not found (the page has 28)"
    # A region (fractions of the ruled frame) restricts what is counted: none below the middle.
    spec = validate({"inputs": ["x"], "layout": {"mode": "auto", "region": [0, 0.5, 1, 1]},
                     "fields": fields[:1]}, check_files=False).spec
    assert read_named(gray, recognizer, spec)[0].reason == "number 0 not found (the page has 0)"


def test_run_command_without_outputs_prints_json_and_reports_bad_pages(tmp_path: Path, recognizer) -> None:
    from typer.testing import CliRunner

    from formreader.cli import app

    (tmp_path / "empty.jpg").write_bytes(b"")
    sample = SAMPLES / "postal-000.jpg"
    pipe = tmp_path / "p.yaml"
    pipe.write_text(f"inputs: [{sample}, empty.jpg]\nlayout: {{mode: zones}}\n"
                    "fields: [{name: zip, zone: [0.0, 0.65, 0.42, 1.0], cells: 5, length: 5}]\n")
    result = CliRunner().invoke(app, ["run", str(pipe), "--model", str(ROOT / "models" / "digits.keras")])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("formreader: error:")]
    assert errors == [f"formreader: error: {tmp_path / 'empty.jpg'}: empty file (0 bytes)"]
    doc = json.loads(result.stdout)
    assert [p["error"] is None for p in doc["pages"]] == [True, False]
    assert doc["pages"][0]["fields"][0]["name"] == "zip"


def test_a_field_read_a_digit_too_long_is_read_within_its_length(mnist, recognizer) -> None:
    """A fresh meter card (bench_accuracy seed 7000, sample 13): a stray stroke before the phone
    number was read as a 6, giving 11 digits where the field holds 10. Read again within its
    length, the number is right, and in review saying what was first read."""
    from formreader.training.drawing import Digits
    from formreader.training.synth import decode, render

    jpeg, truth = render("numbers", 7013, Digits.from_mnist(mnist.x_test, mnist.y_test), 200)
    spec = load_pipeline(ROOT / "pipelines" / "forms.yaml").spec
    phone = {f.name: f for f in read_named(decode(jpeg), recognizer, spec)}["phone"]
    assert phone.value == next(f["value"] for f in truth["fields"] if f["name"] == "phone") == "5455607300"
    assert phone.status == "review"
    assert "read as 65455607300 (11 digits); the likeliest reading with a length the rules accept" in phone.reason


def test_run_interrupted_writes_the_pages_read_and_exits_130(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from formreader.cli import app
    from formreader.reading import page as page_reader

    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes((SAMPLES / "postal-000.jpg").read_bytes())
    pipe = tmp_path / "p.yaml"
    pipe.write_text('inputs: ["*.jpg"]\noutputs: {csv: r.csv, review: review.html}\n')
    real = page_reader.read_page
    calls = []

    def stop_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(page_reader, "read_page", stop_on_second)
    result = CliRunner().invoke(app, ["run", str(pipe)])
    assert result.exit_code == 130 and "interrupted after 1 page(s)" in result.stderr
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0].startswith("source,") and {Path(r.split(",")[0]).name for r in rows[1:]} == {"a.jpg"}
    assert (tmp_path / "review.html").exists()
