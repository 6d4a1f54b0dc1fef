"""JSON/CSV writers (contract, round trip, determinism), atomic output files, overlay PNGs."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from formreader.output.report import MAX_SIDE, draw_overlay, overlay_stems, write_overlay
from formreader.output.writers import CsvWriter, JsonWriter, atomic_write, format_for, open_output, spreadsheet_safe
from formreader.results import CSV_COLUMNS, Digit, Field, PageResult


def sample_pages() -> list[PageResult]:
    good = PageResult(
        source="scans/a.png", page=1, width=400, height=300,
        fields=[
            Field("field_01", "40", 0.97123456, "ok", (50, 40, 120, 60),
                  [Digit("4", 0.99, (55, 45, 50, 50)), Digit("0", 0.97123456, (110, 45, 50, 50))]),
            Field("field_02", "7", 0.41, "review", (50, 160, 120, 60),
                  [Digit("7", 0.41, (60, 165, 50, 50))], reason="below threshold"),
        ],
    )
    failed = PageResult(source="scans/b.pdf", page=2, error="scans/b.pdf: page 2: cannot decode image")
    return [good, failed]


def write_with(writer_class: type, pages: list[PageResult]) -> str:
    out = io.StringIO()
    writer = writer_class(out)
    for page in pages:
        writer.write(page)
    writer.finish()
    return out.getvalue()


def write_json(pages: list[PageResult]) -> str:
    return write_with(JsonWriter, pages)


def write_csv(pages: list[PageResult]) -> str:
    return write_with(CsvWriter, pages)


def test_json_round_trips_to_the_documented_contract() -> None:
    pages = sample_pages()
    doc = json.loads(write_json(pages))
    assert doc == {"pages": [p.to_dict() for p in pages]}
    first = doc["pages"][0]
    assert set(first) == {"source", "page", "width", "height", "layout", "fields", "error"}
    assert first["fields"][0]["confidence"] == 0.9712  # rounded, stable across platforms
    assert first["fields"][0]["bbox"] == [50, 40, 120, 60]
    assert doc["pages"][1]["fields"] == [] and doc["pages"][1]["error"].startswith("scans/b.pdf")


def test_json_is_byte_for_byte_deterministic_and_one_page_per_line() -> None:
    text = write_json(sample_pages())
    assert text == write_json(sample_pages())
    lines = text.splitlines()
    assert lines[0] == '{"pages": [' and lines[-1] == "]}" and len(lines) == 4
    assert text.isascii()


def test_empty_batch_is_still_valid_json() -> None:
    assert json.loads(write_json([])) == {"pages": []}


def test_csv_has_one_row_per_field_and_one_per_failed_page() -> None:
    text = write_csv(sample_pages())
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1:] == [
        ["scans/a.png", "1", "field_01", "40", "0.9712", "ok", "50", "40", "120", "60", "", "", ""],
        ["scans/a.png", "1", "field_02", "7", "0.41", "review", "50", "160", "120", "60", "", "", "below threshold"],
        ["scans/b.pdf", "2", "", "scans/b.pdf: page 2: cannot decode image", "", "error", "", "", "", "", "", "",
         "scans/b.pdf: page 2: cannot decode image"],
    ]  # the failed page has one error row, so the CSV alone shows it is missing; review says why
    assert "\r" not in text and text == write_csv(sample_pages())


def test_csv_keeps_leading_zeros_and_odd_paths_intact() -> None:
    page = PageResult("scans/with, comma \"q\".png", 1, 10, 10,
                      [Field("zip", "02139", 0.95, "ok", (0, 0, 5, 5))])
    rows = list(csv.DictReader(io.StringIO(write_csv([page]))))
    assert rows[0]["value"] == "02139" and rows[0]["source"] == page.source


def test_format_follows_flag_then_suffix_then_json() -> None:
    assert format_for("out.CSV") == "csv"
    assert format_for("out.json") == "json" and format_for(None) == "json"
    assert format_for("out.csv", "json") == "json"
    with pytest.raises(ValueError):
        format_for(None, "xml")


# --- atomic output ------------------------------------------------------------------------------


def test_atomic_write_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    target.write_text("previous run\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write('{"pages": [\n{"half": ')
            raise RuntimeError("scanner died mid-batch")
    assert target.read_text() == "previous run\n"  # old result intact, nothing partial
    assert sorted(os.listdir(tmp_path)) == ["results.json"]  # no temp file left behind

    with atomic_write(target) as fh:
        fh.write("new\n")
    assert target.read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == ["results.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_failed_write_to_a_new_file_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target) as fh:
            fh.write("source,page\n")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    from formreader.errors import FormreaderError

    target = tmp_path / "no" / "such" / "dir" / "out.json"
    with pytest.raises(FormreaderError, match=r"out\.json: cannot write output"):
        with atomic_write(target):
            pass


def test_open_output_without_a_path_streams_to_stdout(capsys) -> None:
    with open_output(None) as stream:
        writer = JsonWriter(stream)
        writer.write(sample_pages()[0])
        writer.finish()
    assert json.loads(capsys.readouterr().out)["pages"][0]["source"] == "scans/a.png"


# --- overlays -----------------------------------------------------------------------------------


def colour_count(img: np.ndarray, rgb: tuple[int, int, int], region: tuple[int, int, int, int]) -> int:
    x0, y0, x1, y1 = region
    patch = img[y0:y1, x0:x1].astype(int)
    return int((np.abs(patch - np.array(rgb)).sum(axis=2) < 30).sum())


def test_overlay_marks_ok_review_and_low_confidence_digits() -> None:
    from formreader.output import report

    gray = np.full((300, 400), 255, np.uint8)
    gray[50:100, 60:160] = 0  # some "ink"
    page = sample_pages()[0]
    img = draw_overlay(gray, page, threshold=0.9)
    assert img.shape == (300, 400, 3) and img.dtype == np.uint8
    ok_box = (50, 40, 170, 100)
    review_box = (50, 160, 170, 220)
    assert colour_count(img, report.OK, ok_box) > 100  # green outline of the ok field
    assert colour_count(img, report.LOW, review_box) > 50  # the 0.41 digit drawn red
    assert colour_count(img, report.LOW, ok_box) == 0  # confident digits are not red
    # The review field is tinted: its blank paper is no longer neutral gray.
    inside = img[200:215, 120:165].astype(int)
    assert (inside[:, :, 0] - inside[:, :, 2]).mean() > 20
    blank = img[250:290, 250:390].astype(int)
    assert np.abs(blank[:, :, 0] - blank[:, :, 2]).max() == 0


def test_overlay_of_a_large_page_is_downscaled_and_written_as_png(tmp_path: Path) -> None:
    gray = np.full((3300, 2560), 255, np.uint8)
    page = PageResult("big.png", 1, 2560, 3300,
                      [Field("f", "1", 0.99, "ok", (1000, 1000, 200, 100), [Digit("1", 0.99, (1050, 1010, 60, 80))])])
    img = draw_overlay(gray, page, threshold=0.9)
    assert max(img.shape[:2]) == MAX_SIDE
    assert abs(img.shape[1] / img.shape[0] - 2560 / 3300) < 0.01
    path = write_overlay(tmp_path / "big-p1.png", img)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size == (img.shape[1], img.shape[0])
    assert [p.name for p in tmp_path.iterdir()] == ["big-p1.png"]


def test_overlay_of_a_failed_page_shows_the_error() -> None:
    gray = np.full((200, 600), 255, np.uint8)
    img = draw_overlay(gray, PageResult("x.png", 1, 600, 200, error="x.png: page 1: could not read page"),
                       threshold=0.9)
    from formreader.output import report

    assert colour_count(img, report.ERROR, (0, 0, 600, 60)) > 50


def test_overlay_stems_are_unique_and_stable() -> None:
    stems = overlay_stems(["a/scan.png", "b/scan.png", "scan.pdf", "other.tif"])
    assert stems[3] == "other"
    assert len(set(stems)) == 4 and all(s.startswith("scan-") for s in stems[:3])
    assert stems == overlay_stems(["a/scan.png", "b/scan.png", "scan.pdf", "other.tif"])


@pytest.mark.parametrize("cell, safe", [
    ("=HYPERLINK(\"x\").png", "'=HYPERLINK(\"x\").png"), ("+1.png", "'+1.png"), ("-", "'-"),
    ("@a.png", "'@a.png"), ("\tx.png", "'\tx.png"), ("scans/a.png", "scans/a.png"), ("1.480.000", "1.480.000"),
    ("bad\udcff.png", "bad\\xff.png"),
])
def test_csv_cells_are_safe_for_spreadsheets(cell: str, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe


def test_csv_with_a_formula_name_and_a_non_utf8_name_is_written() -> None:
    pages = [PageResult("=cmd.png", 1, 10, 10, [Field("f", "12", 0.99, "ok", (0, 0, 5, 5), text="-12")]),
             PageResult("bad\udcff.png", 1, 10, 10, error="bad\udcff.png: cannot decode image")]
    rows = list(csv.reader(io.StringIO(write_csv(pages))))
    assert rows[1][0] == "'=cmd.png" and rows[1][3] == "12" and rows[1][11] == "'-12"
    assert rows[2][0] == "bad\\xff.png" and rows[2][3].startswith("bad\\xff.png")
    json.loads(write_json(pages))  # and the JSON is valid
