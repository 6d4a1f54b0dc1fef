"""Field images: one cropped number per image (``--mode field``, or ``auto`` on a small crop).

Real pixels first: a fixed sample of the real parish-register crops from the development books
(``tests/parish.py``; the held-out books are measured by ``benchmarks/bench_fields.py``, never
here) must keep their accuracy and the precision of what is marked ``ok``. Then the image
stages on hand-made arrays, and the crops that hold no number.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import parish
from formreader.cli import app
from formreader.config import load_pipeline
from formreader.errors import ConfigError
from formreader.imaging.crop_clean import (clean_field, crop_contrast, drop_edge_marks, estimate_slant, flatten,
                                           ink_mask, paper_light, shear_rows, work_size)
from formreader.imaging.crop_rulings import remove_lines
from formreader.imaging.layout import box_lines, choose_layout, looks_like_field
from formreader.reading.field_number import select_number
from formreader.reading.field_read import _separator, read_field_images
from formreader.results import ScanOptions

# Every 12th crop of the development books: 401 crops of 9 books, read in a few seconds.
SAMPLE_STEP = 12
# Measured on that sample: 365 of 401 right (91.0%), 307 ok of which 300 right (97.7%). The
# floors sit about 2% below, so a change that loses more, or lets more wrong fields through, fails.
MIN_ACCURACY = 0.89
MIN_OK_PRECISION = 0.96
# Crops whose label is not a number (NB, 4a, -): the share that may still come out ok. Measured:
# 4 of 98, all an NB read as 13 or 113 by both readers (12 with the segmenter alone). The aim is 0.
MAX_NON_NUMBERS_OK = 0.05


@pytest.fixture(scope="module")
def dev_sample():
    if not parish.PARISH.exists():
        pytest.skip(f"{parish.PARISH} not available (tests expect ../shared beside the repository)")
    return parish.crops("dev")[::SAMPLE_STEP]


@pytest.fixture(scope="module")
def dev_read(dev_sample, recognizer):
    grays = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _, _ in dev_sample]
    return read_field_images(grays, recognizer, ScanOptions())


def test_held_out_books_stay_out_of_the_development_split() -> None:
    assert len(parish.HELD_OUT) >= 4
    if not parish.PARISH.exists():
        pytest.skip("no parish crops")
    dev_books = {b for _, _, b in parish.crops("dev")}
    held = {b for _, _, b in parish.crops("held-out")}
    assert held == set(parish.HELD_OUT) and not dev_books & held


def test_the_label_audit_names_real_crops_and_a_different_number() -> None:
    """Each audited crop is in labels.csv with the label the audit says is wrong, and what is
    written there is a number that differs from it."""
    if not parish.PARISH.exists():
        pytest.skip("no parish crops")
    labels = {p.name: label for p, label, _ in parish.crops("all")}
    audit = parish.audited_labels()
    assert audit
    with open(parish.AUDIT, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            assert labels[row["filename"]] == row["label"] != row["written"] and row["written"].isdigit(), row


def test_real_crops_keep_their_accuracy_and_ok_precision(dev_sample, dev_read) -> None:
    right = sum(f.value == label for (_, label, _), f in zip(dev_sample, dev_read))
    ok = [(f, label) for (_, label, _), f in zip(dev_sample, dev_read) if f.status == "ok"]
    ok_right = sum(f.value == label for f, label in ok)
    assert right / len(dev_sample) >= MIN_ACCURACY, f"{right}/{len(dev_sample)} right"
    assert ok_right / len(ok) >= MIN_OK_PRECISION, f"{ok_right}/{len(ok)} ok fields right"
    assert len(ok) >= 0.6 * len(dev_sample)  # and ok is not bought by sending everything to review


def test_a_faded_scan_reads_as_the_crop_does(dev_sample, dev_read, recognizer) -> None:
    # The same real crops with paper and ink squeezed into grey levels 170-255 (a faded or
    # low-contrast scan): measured 321 of 401 right (350 as scanned), 8 wrong but ok; with an
    # ink threshold made for ink that reaches black, 210 right.
    faded = [(170 + cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) / 3).astype(np.uint8) for p, _, _ in dev_sample]
    read = read_field_images(faded, recognizer, ScanOptions())
    labels = [label for _, label, _ in dev_sample]
    right = sum(f.value == label for f, label in zip(read, labels))
    as_scanned = sum(f.value == label for f, label in zip(dev_read, labels))
    wrong_ok = sum(f.status == "ok" and f.value != label for f, label in zip(read, labels))
    assert right >= 0.9 * as_scanned, f"{right} right faded, {as_scanned} as scanned"
    assert wrong_ok <= 0.03 * len(labels)


def test_crop_contrast_is_the_range_of_the_crop_not_its_level() -> None:
    black_on_white = _blank(60, 80)
    black_on_white[20:40, 30:34] = 0
    faded = (170 + black_on_white / 3).astype(np.uint8)
    assert crop_contrast(black_on_white) == pytest.approx(1.0)
    assert crop_contrast(faded) == pytest.approx(1 - 170 / 255, abs=0.01)
    assert crop_contrast(_blank(60, 80)) == pytest.approx(0.05)  # one grey: the least, never 0


def test_ok_needs_both_readers(dev_read) -> None:
    # The string reader read every crop with a number, and no field is ok unless it read the
    # same digits as the segmenter.
    assert sum(f.second is not None for f in dev_read) >= 0.95 * len(dev_read)
    for f in dev_read:
        if f.status == "ok":
            assert f.second is not None and "".join(c for c in f.second[0] if c.isdigit()) == f.value
        elif f.second is not None and "".join(c for c in f.second[0] if c.isdigit()) != f.value:
            assert "readers disagree" in (f.reason or "")


def test_every_field_says_why_it_is_in_review(dev_read) -> None:
    for f in dev_read:
        assert (f.status == "ok") == (f.reason is None)
        assert f.status == "review" or (f.value and f.text is not None and f.value in f.text.replace(".", "")
                                        .replace(",", "").replace("-", ""))


def test_labels_that_are_not_numbers_are_rarely_ok(recognizer) -> None:
    if not parish.PARISH.exists():
        pytest.skip("no parish crops")
    # Nearly all such crops are in the held-out books: measured here, never tuned on.
    odd = [(p, label) for p, label, _ in parish.crops("all") if not label.isdigit()]
    assert len(odd) >= 90, "the books hold labels like NB, 4a, -"
    read = read_field_images([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _ in odd], recognizer)
    ok = sum(f.status == "ok" for f in read)
    assert ok <= MAX_NON_NUMBERS_OK * len(odd), f"{ok} of {len(odd)} ok"


def test_same_crop_same_result(dev_sample, recognizer) -> None:
    gray = cv2.imread(str(dev_sample[0][0]), cv2.IMREAD_GRAYSCALE)
    a, b = read_field_images([gray, gray.copy()], recognizer)
    assert a.to_dict() == b.to_dict()


# --- crops that hold no number ---------------------------------------------------------------


def _blank(h: int, w: int, level: int = 255) -> np.ndarray:
    return np.full((h, w), level, np.uint8)


def _dash() -> np.ndarray:
    a = _blank(120, 200)
    cv2.line(a, (80, 60), (120, 60), 0, 4)
    return a


def _ruled() -> np.ndarray:
    a = _blank(120, 200)
    cv2.line(a, (5, 90), (195, 90), 0, 3)
    return a


@pytest.mark.parametrize("gray, text", [
    (_blank(100, 150), ""), (_blank(100, 150, 0), ""), (_blank(1, 1), ""), (_blank(1, 300, 0), ""),
    (_blank(0, 0), ""), (_ruled(), ""), (_dash(), "-"),
], ids=["white", "black", "one-pixel", "one-row", "empty", "a ruling", "a dash"])
def test_a_crop_without_digits_is_an_empty_field_in_review(gray, text, recognizer) -> None:
    (f,) = read_field_images([gray], recognizer)
    assert f.value == "" and f.status == "review" and f.reason and f.digits == []
    assert f.text == text


# --- image stages ----------------------------------------------------------------------------


def test_paper_light_inverts_white_ink_on_black_only() -> None:
    a = _blank(60, 90)
    cv2.putText(a, "42", (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 3)
    same, flipped = paper_light(a)
    assert not flipped and same is a
    back, flipped = paper_light(255 - a)
    assert flipped and np.array_equal(back, a)


def test_a_negative_with_a_wide_scanner_bed_is_inverted_and_its_positive_is_not(dev_sample) -> None:
    # Real crops whose black scanner bed takes 40-58% of them: the dark share alone reads their
    # negatives as positives. At the working height, as clean_field decides: measured 1 wrong
    # of 401 either way (4 of all 4,812 development crops either way).
    wrong = 0
    for path, _, _ in dev_sample:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        gray = cv2.resize(gray, None, fx=work_size(gray.shape), fy=work_size(gray.shape), interpolation=cv2.INTER_AREA)
        wrong += paper_light(gray)[1] + (not paper_light(255 - gray)[1])
    assert wrong <= 0.01 * len(dev_sample)


def test_the_other_polarity_is_tried_where_the_chosen_one_holds_no_ink() -> None:
    # A real crop whose bed outweighs its paper, misjudged as a negative: cleaned as that, it
    # holds no ink; as a positive, its 13.
    gray = _parish_crop("born_K2740_0073a-FM_row_id_4.Jpg")
    _, flipped = paper_light(cv2.resize(gray, None, fx=work_size(gray.shape), fy=work_size(gray.shape),
                                        interpolation=cv2.INTER_AREA))
    assert flipped
    cleaned = clean_field(gray)
    assert not cleaned.inverted and cleaned.mask.any()
    assert not clean_field(gray, inverted=True).mask.any()


def test_negative_crops_read_as_the_crops_do(dev_sample, dev_read, recognizer) -> None:
    # White ink on black, the scanner bed white (a negative, a microfilm): measured the same
    # 350 of 401 right as the crops themselves (267 of 400 with the dark share alone).
    negatives = [255 - cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _, _ in dev_sample]
    read = read_field_images(negatives, recognizer, ScanOptions())
    assert [(f.value, f.status) for f in read] == [(f.value, f.status) for f in dev_read]


def test_flatten_blanks_the_scanner_bed_and_keeps_the_ink() -> None:
    a = _blank(160, 200, 200)
    a[:, :50] = 10  # the black of the scanner bed down one side
    cv2.line(a, (120, 40), (120, 120), 60, 3)
    flat = flatten(a)
    assert flat[:, :40].min() == 255  # the bed is not ink
    assert flat[80, 120] < 100 and flat[80, 160] >= 250


def test_flatten_keeps_a_bold_blob_wider_than_its_window_as_ink() -> None:
    a = _blank(160, 240, 200)
    a[:, :30] = 10  # the scanner bed: dark, wide, at the edge
    cv2.circle(a, (130, 80), 22, 40, -1)  # a bold pen's filled loop, twice the window's width
    cv2.circle(a, (200, 80), 22, 150, -1)  # a pale stain of the same size
    flat = flatten(a)
    assert flat[:, :20].min() == 255
    assert flat[80, 130] < 100  # the blob is ink through its middle
    assert flat[80, 200] > 150  # the stain is paler than ink stays out of it


@pytest.mark.parametrize("pale", [40, 60, 80])
def test_ink_mask_keeps_a_pen_that_runs_light_whole_and_cuts_a_dark_strokes_blur(pale) -> None:
    """One stroke, black for its first quarter, then fading to ``pale`` darkness at its end
    (a pen running dry), blurred as a scan blurs: the mask is one mark from end to end, and
    the black part is no wider than the stroke drawn, not widened by its blur."""
    a = np.full((160, 200), 255, np.uint8)
    for x in range(20, 181):
        a[78:83, x] = round(20 + (235 - pale) * max(0, x - 60) / 120)
    a = cv2.GaussianBlur(a, (0, 0), 1.5)
    mask = ink_mask(a)
    n, _ = cv2.connectedComponents(mask.astype(np.uint8))
    assert n == 2 and mask[80, 22] and mask[80, 178]  # one mark (and the background)
    assert mask[:, 40].sum() <= 7  # drawn 5 wide; the blur spreads it to ~11 above the noise


def test_remove_lines_takes_the_underline_and_keeps_the_stroke_through_it() -> None:
    m = np.zeros((160, 200), bool)
    m[120:123, 5:195] = True  # an underline across the crop
    m[60:140, 100:104] = True  # a stroke written through it
    kept, removed = remove_lines(m)
    assert not kept[121, 20] and removed[121, 20]
    assert kept[121, 101]  # the stroke is still one piece across the line
    assert kept[60:140, 100:104].all()


def test_remove_lines_takes_a_worn_column_ruling_at_the_side() -> None:
    m = np.zeros((160, 200), bool)
    for y in range(0, 160, 20):
        m[y : y + 17, 185:187] = True  # broken into pieces, 3 px gaps
    m[50:100, 90:94] = True  # a digit's stroke in the middle
    kept, _ = remove_lines(m)
    assert not kept[:, 180:].any() and kept[50:100, 90:94].all()


def test_remove_lines_keeps_a_1_at_the_side_that_reaches_no_end_and_takes_a_ruling_piece_that_does() -> None:
    """A run at the side shorter than 75% of the height is a worn ruling's piece only where it
    comes from the top or the bottom: the 1 that starts a long number floats between them."""
    m = np.zeros((160, 520), bool)
    m[40:130, 50:60] = True  # a leading 1, 56% of the height, 10% of the width from the edge
    m[0:90, 505:508] = True  # a piece of a column ruling from the top down
    kept, removed = remove_lines(m)
    assert kept[40:130, 50:60].all() and removed[0:90, 505:508].all()


def test_drop_edge_marks_keeps_what_reaches_into_the_crop() -> None:
    m = np.zeros((100, 100), bool)
    m[0:8, 40:60] = True  # the tail of the number above, cut by the top edge
    m[20:95, 45:50] = True  # a tall digit of a tight crop, not touching
    m[30:100, 70:74] = True  # a digit touching the bottom edge, reaching past the middle
    kept, dropped = drop_edge_marks(m)
    assert dropped[0:8, 40:60].all() and kept[20:95, 45:50].all() and kept[30:100, 70:74].all()


def test_clean_field_is_pure_and_sized_to_the_working_height() -> None:
    a = _dash()
    before = a.copy()
    c = clean_field(a)
    assert np.array_equal(a, before)
    assert c.mask.shape[0] == 160 and c.gray.shape == c.mask.shape


@pytest.mark.parametrize("rect, sep", [
    ((100, 92, 6, 6), "."),  # a dot on the baseline
    ((100, 92, 5, 18), ","),  # a comma descending below it
    ((100, 50, 30, 6), "-"),  # a dash at mid height
    ((100, 10, 6, 6), None),  # a dot up in the air: not a separator
], ids=["dot", "comma", "dash", "accent"])
def test_small_marks_beside_digits_read_as_separators(rect, sep) -> None:
    assert _separator(rect, (40.0, 100.0), 60.0) == sep


def _parish_crop(name: str) -> np.ndarray:
    """A real parish crop by its file name (the test is skipped without ../shared)."""
    if not parish.PARISH.exists():
        pytest.skip("no parish crops")
    return cv2.imread(str(parish.PARISH / "images" / name), cv2.IMREAD_GRAYSCALE)


@pytest.mark.parametrize("name", ["born_K2740_0035a-FM_row_id_2.Jpg", "born_K2740_0190a-FK_row_id_2.Jpg",
                                  "born_K2730_0080a-FM_row_id_2.Jpg"])
def test_a_small_zero_joined_to_the_digit_before_it_is_read(name, recognizer) -> None:
    """Real ``20``s whose 0 is a small ring written on from the 2 (about 0.4 of its height):
    read whole they are a sure 6, and the ring alone is too short for a digit unless it is
    known for a ring."""
    gray = _parish_crop(name)
    f = read_field_images([gray], recognizer, ScanOptions(string_reader=False))[0]
    assert f.value == "20"


@pytest.mark.parametrize("name,value", [("born_K2732_0091a-FM_row_id_3.Jpg", "37"),
                                        ("born_K2732_0222a-FK_row_id_1.Jpg", "17"),
                                        ("born_K2740_0058a-FM_row_id_2.Jpg", "1"),
                                        ("born_K2740_0064a-FM_row_id_5.Jpg", "10"),
                                        ("born_K2740_0225a-FK_row_id_4.Jpg", "15")])
def test_a_ruling_beside_a_number_is_not_a_1_and_a_tall_1_is(name, value, recognizer) -> None:
    """Real crops. A 37 and a 17 a third as high as a leftover piece of the column ruling
    beside them: the ruling is a sliver, and the number is read, not the ruling as a 1. A
    "1.", "10." and "15." whose 1 is a straight upright stroke twice as tall as the 0 or the 5
    beside it, or beside nothing but a full stop: the 1 is read, not dropped as a sliver."""
    gray = _parish_crop(name)
    assert read_field_images([gray], recognizer, ScanOptions())[0].value == value


@pytest.mark.parametrize("name,label", [("born_K2730_0203a-FK_row_id_2.Jpg", "40"),
                                        ("born_K2730_0251a-FK_row_id_0.Jpg", "40"),
                                        ("born_K2731_0135a-FK_row_id_3.Jpg", "41")])
def test_a_last_digit_written_small_is_not_passed_as_a_full_stop(name, label, recognizer) -> None:
    """Real 40s and a 41 whose last digit is a third of the 4's height: too small for a
    digit, it would pass as the full stop of "4."; bigger than a touch of the pen, it sends
    the field to review."""
    field = read_field_images([_parish_crop(name)], recognizer, ScanOptions())[0]
    assert field.value == label or field.status == "review"
    assert "too big for a full stop" in (field.reason or "")


@pytest.mark.parametrize("name,label", [("born_K2730_0047a-FM_row_id_4.Jpg", "16"),
                                        ("born_K2731_0158a-FK_row_id_0.Jpg", "46"),
                                        ("born_K2732_0052a-FM_row_id_3.Jpg", "52"),
                                        ("born_K2740_0101a-FM_row_id_3.Jpg", "10")])
def test_a_pale_stretch_of_a_stroke_is_kept_whole(name, label, recognizer) -> None:
    """Real crops where the pen ran light: a small 6 or a 0 drawn thinner than the digit
    before it, a 5 whose bar is paler than its bow. Cut at a share of the whole mark's
    darkness they fell apart or were lost; cut at a share of their own, they are read right
    and sure."""
    field = read_field_images([_parish_crop(name)], recognizer, ScanOptions())[0]
    assert (field.value, field.status) == (label, "ok")


@pytest.mark.parametrize("name,label", [("born_K2730_0080a-FM_row_id_3.Jpg", "21"),
                                        ("born_K2731_0165a-FK_row_id_4.Jpg", "35"),
                                        ("born_K2731_0176a-FK_row_id_2.Jpg", "21")])
def test_a_misread_digit_between_doubt_and_settled_is_looked_at_again(name, label, recognizer) -> None:
    """Real crops the digit CNN misreads at 0.9-0.99 (a joined 21 as one 4, a 35 as 85, a 21
    as 71) and the string reader agrees with: the second look doubts the digit, so the field
    goes to review instead of being a confident wrong number."""
    gray = _parish_crop(name)
    field = read_field_images([gray], recognizer, ScanOptions())[0]
    assert field.value != label and field.status == "review"
    assert "below threshold" in (field.reason or "")


@pytest.mark.parametrize("name,label", [("born_K2732_0189a-FK_row_id_1.Jpg", "45"),
                                        ("born_K2731_0202a-FK_row_id_0.Jpg", "15")])
def test_a_digit_lost_at_the_closer_look_sends_the_field_to_review(name, label, recognizer) -> None:
    """Real crops whose second digit is faint and in two strokes (a 45) or whose whole number
    is a pale pencil line (a 15): the first look at the whole crop has the mark in the number,
    the closer look at the number loses it, and the field would be one digit short with every
    digit sure."""
    field = read_field_images([_parish_crop(name)], recognizer, ScanOptions())[0]
    assert field.value == label or field.status == "review"
    assert "gone when looked at closer" in (field.reason or "")


def test_a_ruling_piece_dropped_at_the_closer_look_is_no_lost_digit(recognizer) -> None:
    """A real 39 whose first look kept a hairline of the column ruling beside it: the closer
    look drops it, rightly, and the field stays ok."""
    field = read_field_images([_parish_crop("born_K2731_0120a-FM_row_id_1.Jpg")], recognizer, ScanOptions())[0]
    assert (field.value, field.status) == ("39", "ok")


# Boxes of the real NIST form (their bboxes on the page) and what is written in them.
NIST_BOXES = {(137, 969, 127, 100): "16", (434, 1128, 250, 101): "7358", (1631, 1286, 129, 96): "80",
              (1270, 1444, 129, 99): "49", (1391, 1603, 252, 100): "3678"}


@pytest.mark.parametrize("margin", [0, 6, 15, 30, 60])
def test_a_box_cut_out_of_a_form_is_read_without_its_sides(nist_scan, recognizer, margin) -> None:
    """Boxes cut from the real NIST form as a capture tool cuts them, with a margin of 0 to 60
    px (at 60, neighbouring boxes' corners and the printed prompts come along): the box's
    sides, the frayed edge a scanner leaves beside them and neighbours' lines are never read
    as a 1, and no field is a confident wrong number."""
    page = cv2.imread(str(nist_scan), cv2.IMREAD_GRAYSCALE)
    crops = [page[max(0, y - margin): y + h + margin, max(0, x - margin): x + w + margin]
             for x, y, w, h in NIST_BOXES]
    fields = read_field_images(crops, recognizer, ScanOptions())
    assert [f.value for f in fields] == list(NIST_BOXES.values())


@pytest.mark.parametrize("angle", [0.5, 1.0, -1.0])
def test_a_digit_stuck_to_a_skewed_box_line_sends_the_field_to_review(nist_scan, recognizer, angle) -> None:
    """The real NIST form's first box (0123456789), turned by up to a degree and cut out with
    5-20 px around it: where the 9 stays stuck to the box's line, the number is read one digit
    short, and the field says so instead of being a confident 012345678."""
    page = cv2.imread(str(nist_scan), cv2.IMREAD_GRAYSCALE)
    x, y, w, h = 136, 810, 605, 98
    turn = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, 1.0)
    page = cv2.warpAffine(page, turn, page.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=255)
    crops = [page[y - m: y + h + m, x - m: x + w + m] for m in (5, 10, 20)]
    for field in read_field_images(crops, recognizer, ScanOptions()):
        assert field.value == "0123456789" or field.status == "review"


@pytest.mark.parametrize("angle", [1.5, -2.5, 3.5])
def test_a_box_cut_from_a_turned_page_loses_its_lines(nist_scan, recognizer, angle) -> None:
    """Boxes of the real NIST form turned by 1.5 to 3.5 degrees and cut out with 10 px around
    them: the box's lines are staircases no straight run covers; they are found turned and
    taken out, and the numbers read as on the page."""
    page = cv2.imread(str(nist_scan), cv2.IMREAD_GRAYSCALE)
    crops = []
    for x, y, w, h in NIST_BOXES:
        around = page[y - 80: y + h + 80, x - 80: x + w + 80]  # the box and 80 px, turned about its centre
        turn = cv2.getRotationMatrix2D(((w + 160) / 2, (h + 160) / 2), angle, 1.0)
        turned = cv2.warpAffine(around, turn, (w + 160, h + 160), flags=cv2.INTER_LINEAR, borderValue=255)
        crops.append(turned[70: h + 90, 70: w + 90])
    fields = read_field_images(crops, recognizer, ScanOptions())
    assert [f.value for f in fields] == list(NIST_BOXES.values())


# --- layout: field or page -------------------------------------------------------------------


def test_auto_tells_field_images_from_pages(nist_scan) -> None:
    assert looks_like_field((168, 128)) and looks_like_field((150, 900))  # a crop, an amount strip
    assert not looks_like_field((3300, 2560)) and not looks_like_field((413, 921))  # forms, a cheque
    assert choose_layout(np.full((3300, 2560), 255, np.uint8), "field") == "field"
    small = np.full((168, 128), 255, np.uint8)
    assert choose_layout(small, "page") == "page" and choose_layout(small, "boxes") == "page"


def test_a_band_of_a_form_is_a_page_and_one_line_of_its_boxes_a_field(nist_scan) -> None:
    """Cut from the real NIST form: a band with three lines of boxes has the shape of a strip,
    but a field is never written on more than one line; one line of boxes stays a field."""
    form = cv2.imread(str(nist_scan), cv2.IMREAD_GRAYSCALE)
    band, line = form[1100:1595], form[1110:1250]
    assert looks_like_field(band.shape) and box_lines(band) == 3 and choose_layout(band, "auto") == "page"
    assert box_lines(line) == 1 and choose_layout(line, "auto") == "field"
    assert choose_layout(band, "field") == "field"


def test_scan_reports_the_layout_it_chose(dev_sample, tmp_path: Path) -> None:
    crop = dev_sample[1][0]
    sample = Path(__file__).resolve().parents[2] / "samples" / "postal-000.jpg"
    result = CliRunner().invoke(app, ["scan", str(crop), str(sample)])
    assert result.exit_code == 0, result.output
    pages = json.loads(result.stdout)["pages"]
    assert [p["layout"] for p in pages] == ["field", "page"]
    assert len(pages[0]["fields"]) == 1 and "text" in pages[0]["fields"][0]
    forced = CliRunner().invoke(app, ["scan", "--mode", "field", "--format", "csv", str(sample)])
    assert forced.exit_code == 0 and forced.stdout.splitlines()[1].split(",")[10] == "field"


def test_pipeline_in_field_mode_takes_one_field_without_a_locator(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    good = tmp_path / "ok.yaml"
    good.write_text("inputs: [a.png]\nlayout: {mode: field}\nfields: [{name: row, max_length: 3}]\n")
    assert load_pipeline(good).spec.scan_options().field_mode == "field"
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [a.png]\nlayout: {mode: field}\nfields: [{name: row, index: 0}, {name: b}]\n")
    with pytest.raises(ConfigError) as info:
        load_pipeline(bad)
    assert "fields[1]: layout.mode 'field' reads one field per image" in str(info.value)
    bad.write_text("inputs: [a.png]\nlayout: {mode: field}\nfields: [{name: row, index: 0}]\n")
    with pytest.raises(ConfigError, match=r"fields\[0\]\.index: not used in layout.mode 'field'"):
        load_pipeline(bad)


# --- separators, on MNIST test digits written as an amount -------------------------------------


def _amount_strip(mnist, text: str, seed: int = 0) -> np.ndarray:
    """A field image of ``text`` (digits, '.', ',', '-') drawn with MNIST test digits at 3x,
    on grey paper with an underline and the scanner bed down the left side."""
    rng = np.random.default_rng(seed)
    pieces = []
    for ch in text:
        if ch.isdigit():
            pool = np.flatnonzero(mnist.y_test == int(ch))
            img = mnist.x_test[rng.choice(pool)][:, 4:24]  # MNIST digits sit in the middle 20 columns
            pieces.append(img)
        else:
            mark = np.zeros((28, 10), np.uint8)
            if ch == ".":
                cv2.circle(mark, (5, 23), 2, 255, -1)
            elif ch == ",":
                cv2.line(mark, (6, 21), (4, 27), 255, 2)
            elif ch == "-":
                mark = np.zeros((28, 16), np.uint8)
                cv2.line(mark, (2, 14), (13, 14), 255, 2)
            pieces.append(mark)
    ink = np.hstack([np.zeros((28, 8), np.uint8)] + pieces + [np.zeros((28, 8), np.uint8)])
    ink = np.pad(ink, ((10, 10), (0, 0)))
    ink = cv2.resize(ink, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    page = 215 - (ink.astype(np.float32) * 0.75).astype(np.uint8)
    h, w = page.shape
    cv2.line(page, (0, h - 30), (w - 1, h - 30), 60, 3)  # the line the amount is written on
    page = np.hstack([np.full((h, 40), 15, np.uint8), page])  # the scanner bed
    noise = rng.normal(0, 4, page.shape)
    return np.clip(page + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("written", ["1.480.000", "25,50", "1500-", "730"])
def test_separators_are_kept_in_text_and_never_read_as_digits(mnist, recognizer, written) -> None:
    (f,) = read_field_images([_amount_strip(mnist, written)], recognizer)
    digits = "".join(c for c in written if c.isdigit())
    assert f.value == digits, (f.value, f.text, f.reason)
    assert f.text == written


def test_slant_is_measured_and_taken_out() -> None:
    m = np.zeros((100, 120), bool)
    for y in range(20, 80):  # a stroke leaning right by 0.3 columns per row, 4 px wide
        x = 60 + int(round(0.3 * (50 - y)))
        m[y, x : x + 4] = True
    k = estimate_slant(m)
    assert -0.35 < k < -0.25
    upright = shear_rows(m, k, 50.0, 40, 0)
    cols = np.nonzero(upright.any(axis=0))[0]
    assert upright.shape == (100, 200) and cols.max() - cols.min() <= 6
    assert estimate_slant(upright) == pytest.approx(0.0, abs=0.03)


def test_boxes_of_a_deslanted_field_map_back_inside_the_source(dev_sample, recognizer) -> None:
    for path, _, _ in dev_sample[:40]:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        (f,) = read_field_images([gray], recognizer)
        for x, y, w, h in [f.bbox] + [d.bbox for d in f.digits]:
            assert 0 <= x and 0 <= y and x + w <= gray.shape[1] and y + h <= gray.shape[0]


@pytest.fixture(scope="module")
def check_strings(mnist) -> tuple[np.ndarray, list[str]]:
    """The string reader's first 1,000 synthetic check strings (MNIST test digits, the model
    card's seed): strips and texts, drawn once for the tests below."""
    from formreader.training.string_synth import StringWriter, batch

    x, _, _, texts = batch(StringWriter(mnist.x_test, mnist.y_test, seed=1000, width=352), 1000)
    return x, texts


def _check_string_crop(check_strings, index: int) -> tuple[np.ndarray, str]:
    """Check string ``index`` as a field image, and its text."""
    from formreader.training.string_synth import as_field_image

    x, texts = check_strings
    return as_field_image(x[index]), texts[index]


# The first 200 check strings read as field images (benchmarks/bench_field_strings.py reads
# 1,000): measured 165 values right, 5 wrong but ok. Floors a few strings below.
STRINGS_RIGHT, STRINGS_WRONG_OK = 162, 7


def test_synthetic_amounts_read_as_field_images_keep_their_accuracy(check_strings, recognizer) -> None:
    """Long numbers with separators, dates and underlines (what the parish crops never hold),
    through the whole field reader: a regression in cleaning or judging long strings fails."""
    from formreader.training.string_synth import as_field_image

    x, texts = check_strings[0][:200], check_strings[1][:200]
    fields = read_field_images([as_field_image(s) for s in x], recognizer)
    digits = ["".join(c for c in t if c.isdigit()) for t in texts]
    right = sum(f.value == d for f, d in zip(fields, digits))
    wrong_ok = sum(f.status == "ok" and f.value != d for f, d in zip(fields, digits))
    assert right >= STRINGS_RIGHT and wrong_ok <= STRINGS_WRONG_OK, (right, wrong_ok)


@pytest.mark.parametrize("index", [0, 2])  # "86842" and "22", each with a digit in a bold pen
def test_a_bold_digit_in_a_tight_crop_is_read(check_strings, recognizer, index) -> None:
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.value == text, (f.value, f.reason)


@pytest.mark.parametrize("index", [193, 366, 697])  # "01334306", "955" and "5063"
def test_a_digit_written_half_size_after_the_number_is_read(check_strings, recognizer, index) -> None:
    """The last digit written at half the others' height (cents, a raised digit) is no dot and
    no digit-high mark either; it is part of the number, which would otherwise read one digit
    short and ok (0133430, 95, 506)."""
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.value == text, (f.value, f.reason)


@pytest.mark.parametrize("index", [425, 430])  # "6.057.510" and "51262641762"
def test_straight_strokes_near_the_ends_of_a_long_number_are_no_ruling(check_strings, recognizer, index) -> None:
    """A long number's crop is several times as wide as high: a fifth of its width from the
    edge, where a column ruling's piece would lie, holds whole digits, and the straight stroke
    of a 1 or a 7 among them is as tall as that piece. It is read, not dropped (with a side band
    of a share of the width alone, both would read one digit short, ok)."""
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.value == "".join(c for c in text if c.isdigit()), (f.value, f.reason)


@pytest.mark.parametrize("index", [167, 833])  # "015.238.532" and "618306.33"
def test_a_digit_broken_in_pieces_does_not_split_the_number(check_strings, recognizer, index) -> None:
    """A faint digit that comes out in pieces, none of them digit-high, leaves a gap wider than
    the number's spacing: cut in two there, the number would lose the part with less ink as
    'marks apart' ("618306.33" read 618). The pieces on the number's line close the gap."""
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.value == "".join(c for c in text if c.isdigit()), (f.value, f.reason)


@pytest.mark.parametrize("index", [686, 727])  # "780480252" and "9456484", underlined in part
def test_digits_stuck_to_a_short_underline_are_read(check_strings, recognizer, index) -> None:
    """An underline under part of a number, shorter than half the crop, is no ruling to the
    cleaning: the digits on it come out joined to it as one flat mark, which is no digit (the
    numbers would read 7804852 and 94484). Its straight run is taken out, the strokes crossing
    it kept, and the digits read."""
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.value == text, (f.value, f.reason)


@pytest.mark.parametrize("index", [4, 357, 992])  # "1669.", "12560" and "16"
def test_a_1_that_starts_a_number_is_no_ruling(check_strings, recognizer, index) -> None:
    """The straight 1 at the start of a number stands where a worn column ruling's piece would,
    and is as tall; taken for one, the number read a digit short, ok (669, 2560, 6)."""
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.value == "".join(c for c in text if c.isdigit()), (f.value, f.reason)


@pytest.mark.parametrize("index", [177, 491])  # "62205" and "3.558.890.608"
def test_digits_joined_in_one_stroke_are_read_not_taken_for_a_line(check_strings, recognizer, index) -> None:
    """Two or three digits joined by ligatures are as wide as a dash is for its height; without
    a long straight run they are writing, and the number keeps them (622 and 358830608 before)."""
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.value == "".join(c for c in text if c.isdigit()), (f.value, f.reason)


@pytest.mark.parametrize("index", [81, 974])  # "5.770.553" and "1645250809", underlined through the digits
def test_the_string_reader_reads_digits_with_the_line_they_stick_to(check_strings, recognizer, index) -> None:
    """The segmenter reads digits freed of the underline they stick to, and freeing them cuts
    into their strokes; the string reader learnt underlines and reads the number with it."""
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.second is not None
    assert "".join(c for c in f.second[0] if c.isdigit()) == "".join(c for c in text if c.isdigit()), f.second


@pytest.mark.parametrize("index", [133, 374, 784])  # "632274", "55" and "373800788001"
def test_a_faint_first_digit_in_pieces_is_part_of_the_number(check_strings, recognizer, index) -> None:
    """A faint first digit that came out in pieces, none of them digit-high, lies before the
    number's first digit-high mark: dropped, the number read a digit short and ok (32274, 5,
    73800788001). Together the pieces are a digit's height, and the number keeps them."""
    gray, text = _check_string_crop(check_strings, index)
    (f,) = read_field_images([gray], recognizer)
    assert f.value == "".join(c for c in text if c.isdigit()), (f.value, f.reason)


def test_a_real_69_whose_6_broke_in_pieces_keeps_its_6(recognizer) -> None:
    """A development crop whose faint 6 came out in pieces: read 9, ok, without them."""
    gray = _parish_crop("born_K2732_0037a-FM_row_id_3.Jpg")
    assert read_field_images([gray], recognizer)[0].value == "69"


def test_one_short_piece_beside_a_number_is_no_digit(recognizer) -> None:
    """What the ruling finder left of a turned ruling beside "18" is one short straight piece:
    taken with the number, it read 118, ok."""
    gray = _parish_crop("born_K2740_0035a-FM_row_id_0.Jpg")
    assert read_field_images([gray], recognizer)[0].value == "18"


@pytest.mark.parametrize("name,label", [("born_K2732_0037a-FM_row_id_2.Jpg", "68"),
                                        ("born_K2730_0093a-FM_row_id_1.Jpg", "42")])
def test_a_digit_in_pieces_at_two_heights_is_one_line(name, label, recognizer) -> None:
    """Development crops with a digit in two pieces whose centres lie apart: a 6 whose loop
    came loose below its stem (read 18, ok), a 4 whose stem stands lower than its arm (read
    72). Taken for two lines of writing, the first "line" was the loose piece."""
    field = read_field_images([_parish_crop(name)], recognizer)[0]
    assert field.value == label, field.reason
    assert "other line(s)" not in (field.reason or "")


@pytest.mark.parametrize("name,label", [("born_K2731_0043a-FM_row_id_1.Jpg", "56"),
                                        ("born_K2732_0127a-FM_row_id_2.Jpg", "35"),
                                        ("born_K2733_0017a-FM_row_id_3.Jpg", "59")])
def test_a_correction_written_above_a_struck_out_number_is_read_and_sent_to_review(name, label, recognizer) -> None:
    """Development crops whose number was struck out and the right one written above it: the
    struck number has more ink (its stroke, often one more digit), and was read instead."""
    field = read_field_images([_parish_crop(name)], recognizer)[0]
    assert field.value == label
    assert field.status == "review" and "other line(s) of writing" in field.reason


def test_the_print_above_a_box_is_another_cell_not_the_first_line(nist_scan, recognizer) -> None:
    """A box cut with a wide margin holds the form's printed copy of the number above it; the
    box's top line, taken out by the cleaning, parts the two. Without the removed rulings the
    first line is the print (read 18 for the handwritten 16)."""
    page = cv2.imread(str(nist_scan), cv2.IMREAD_GRAYSCALE)
    (x, y, w, h), value = next(iter(NIST_BOXES.items()))
    crop = page[y - 60 : y + h + 60, x - 60 : x + w + 60]
    cleaned = clean_field(crop)
    kept = select_number(cleaned.mask, removed=cleaned.others)
    printed = select_number(cleaned.mask)
    assert any(n.endswith("other line(s) of writing in the image") for n in kept.notes)
    ys_kept, ys_printed = np.nonzero(kept.mask)[0], np.nonzero(printed.mask)[0]
    assert ys_printed.max() < ys_kept.min()  # the print lies wholly above the handwriting
    assert read_field_images([crop], recognizer)[0].value == value
