"""Field finding on generated pages: boxes, comb fields, rulings crossed by digits, free numbers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from formreader import clean, fields
from synthpage import Page


@pytest.fixture(scope="module")
def digits(mnist) -> dict[int, list[np.ndarray]]:
    """The first five MNIST *test* images of each class."""
    out: dict[int, list[np.ndarray]] = {d: [] for d in range(10)}
    for img, lab in zip(mnist.x_test, mnist.y_test):
        if len(out[int(lab)]) < 5:
            out[int(lab)].append(img)
        if all(len(v) == 5 for v in out.values()):
            break
    return out


def spell(value: str, digits) -> list[np.ndarray]:
    return [digits[int(c)][i % 5] for i, c in enumerate(value)]


def form(digits, scale: float = 1.0, text_boxes: bool = False
         ) -> tuple[Page, list[tuple[int, int, int, int]], tuple[int, int, int, int]]:
    """A letter page at 100 dpi x ``scale``: a label and box per number, one comb field, one
    empty box; with ``text_boxes`` also a box of letters and a box holding a printed paragraph
    with numbers in it. Returns the page, the filled boxes' rects and the comb's rect."""
    s = scale
    p = Page(int(850 * s), int(1100 * s))
    t = max(1, int(round(2 * s)))
    p.text("PLEASE WRITE THE NUMBERS BELOW", int(80 * s), int(60 * s), 0.7 * s)
    rects = []
    for i, value in enumerate(["307", "41", "9562"]):
        x, y, w, h = int((80 + 230 * i) * s), int(140 * s), int((60 + 40 * len(value)) * s), int(40 * s)
        p.text(value, x + int(10 * s), y - int(8 * s), 0.5 * s)
        p.box(x, y, w, h, t)
        p.write(spell(value, digits), x + int(12 * s), y + int(8 * s), int(26 * s), int(8 * s))
        rects.append((x, y, w, h))
    p.box(int(80 * s), int(260 * s), int(300 * s), int(40 * s), t)  # empty
    cell, ch = int(34 * s), int(40 * s)
    comb = (int(80 * s), int(360 * s), 5 * cell, ch)
    for i, (cx, cy) in enumerate(p.comb(comb[0], comb[1], cell, ch, 5, t)):
        p.paint(digits[(2 * i + 1) % 10][0], cx + int(8 * s), cy + int(6 * s), int(26 * s))
    if text_boxes:
        p.box(int(80 * s), int(460 * s), int(600 * s), int(44 * s), t)
        cv2.putText(p.gray, "kwyx hmr fEt uvN", (int(95 * s), int(492 * s)),
                    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.0 * s, 30, max(1, int(2 * s)), cv2.LINE_AA)
        p.box(int(80 * s), int(560 * s), int(600 * s), int(130 * s), t)
        for k, line in enumerate(["Call 555 0123 before 12 May 1992 if the", "form is torn; quote ref 44 and 7021",
                                  "Thank you for your help"]):
            p.text(line, int(95 * s), int((595 + 35 * k) * s), 0.6 * s)
    return p, rects, comb


def close(a, b, tol: int) -> bool:
    return all(abs(int(u) - int(v)) <= tol for u, v in zip(a, b))


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_find_boxes_finds_every_box_and_the_comb_at_100_and_300_dpi(digits, scale: float) -> None:
    p, rects, comb = form(digits, scale)
    cp = clean.clean_page(p.gray, deskew=False)
    boxes = fields.find_boxes(cp.mask)
    outers = [tuple(int(round(v / cp.scale)) for v in b.outer) for b in boxes]
    tol = int(4 * scale)
    # 3 filled boxes, the empty one and the comb; the printed label makes no box.
    assert len(boxes) == 5
    for r in rects:
        assert any(close(o, r, tol) for o in outers), (r, outers)
    combs = [b for b in boxes if b.cells]
    assert len(combs) == 1 and len(combs[0].cells) == 5
    assert close(outers[boxes.index(combs[0])], comb, tol)


def test_box_regions_hold_only_the_handwriting(digits) -> None:
    p, rects, _ = form(digits)
    cp = clean.clean_page(p.gray, deskew=False)
    regions = fields.find_regions(cp.mask, "boxes")
    # The empty box gives no region; the rest are in reading order.
    assert [r.kind for r in regions] == ["box", "box", "box", "comb"]
    for region, value in zip(regions, ["307", "41", "9562"]):
        n, _, stats, _ = cv2.connectedComponentsWithStats(region.mask.astype(np.uint8))
        heights = stats[1:, cv2.CC_STAT_HEIGHT]
        # One mark per digit (MNIST strokes are unbroken), each digit-tall: no ruling, no label.
        assert n - 1 == len(value)
        assert heights.min() >= 20


def test_stroke_crossing_a_ruling_survives_line_removal() -> None:
    crop = np.zeros((80, 120), bool)
    crop[20:23, 10:110] = True  # top ruling
    crop[60:63, 10:110] = True  # bottom ruling
    crop[20:63, 10:13] = crop[20:63, 107:110] = True  # sides
    crop[40:75, 50:53] = True  # a stroke crossing the bottom ruling
    inner = (13, 23, 94, 37)
    out = fields.remove_rulings(crop, inner, (3, 3, 3, 3))
    n, labels = cv2.connectedComponents(out.astype(np.uint8))
    assert n - 1 == 1  # rulings gone, the stroke is one piece
    assert out[40:75, 50:53].all()
    assert out.sum() <= crop[40:75, 50:53].sum() + 3 * 8  # at most a sliver of ruling kept


def test_digit_written_through_the_bottom_ruling_is_kept_whole(digits) -> None:
    p = Page(400, 300)
    p.box(50, 100, 200, 50, 2)
    # A 7 whose tail goes 12 px below the box.
    x, y, w, h = p.paint(digits[7][0], 120, 110, 52)
    cp = clean.clean_page(p.gray, deskew=False)
    (region,) = fields.find_regions(cp.mask, "boxes")
    n, _, stats, _ = cv2.connectedComponentsWithStats(region.mask.astype(np.uint8))
    assert n - 1 == 1
    top, height = stats[1, cv2.CC_STAT_TOP] + region.origin[1], stats[1, cv2.CC_STAT_HEIGHT]
    assert abs(top - y) <= 2 and height >= h - 4


def test_blank_page_has_no_fields() -> None:
    p = Page(850, 1100)
    cp = clean.clean_page(p.gray)
    assert fields.find_boxes(cp.mask) == []
    assert fields.find_regions(cp.mask) == []


def test_free_numbers_are_grouped_by_line_and_spacing(digits) -> None:
    p = Page(850, 600)
    h = 30
    x = p.write(spell("123", digits), 60, 100, h, 6)
    p.write(spell("45", digits), x + 3 * h, 100, h, 6)  # a wide gap: another number
    p.write(spell("6789", digits), 60, 250, h, 6)  # another line
    cp = clean.clean_page(p.gray, deskew=False)
    assert fields.find_boxes(cp.mask) == []
    regions = fields.find_regions(cp.mask)
    counts = [cv2.connectedComponents(r.mask.astype(np.uint8))[0] - 1 for r in regions]
    assert [r.kind for r in regions] == ["free"] * 3
    assert counts == [3, 2, 4]
    assert regions[0].bbox[0] < regions[1].bbox[0] and regions[1].bbox[1] < regions[2].bbox[1]


def test_text_lines_counts_lines_of_marks() -> None:
    m = np.zeros((100, 200), bool)
    for y in (10, 40, 70):
        for x in range(10, 190, 20):
            m[y : y + 15, x : x + 8] = True
    assert fields.text_lines(m) == 3
    assert fields.text_lines(m[:30]) == 1
    assert fields.text_lines(np.zeros((10, 10), bool)) == 0


def test_reading_order_is_by_line_then_left_to_right() -> None:
    rects = [(300, 12, 50, 30), (10, 100, 50, 30), (10, 10, 50, 30), (150, 95, 50, 40)]
    assert fields.reading_order(rects) == [(10, 10, 50, 30), (300, 12, 50, 30),
                                           (10, 100, 50, 30), (150, 95, 50, 40)]


# --- whole pages through read_page: the field finder as the scanner uses it -----------------

@pytest.fixture(scope="module")
def bank(mnist, recognizer):
    """Digits the model reads confidently alone: page tests then measure the page pipeline."""
    from synthpage import pick_digits

    return pick_digits(mnist.x_test, mnist.y_test, recognizer)


FORM_VALUES = ["307", "41", "9562", "13579"]  # three boxes, then the comb field


def read_values(gray: np.ndarray, recognizer) -> list[str]:
    from formreader.page import read_page

    return [f.value for f in read_page(gray, recognizer)]


def test_form_page_reads_every_field_and_no_text(bank, recognizer) -> None:
    """Numbers only from digit boxes: not the printed labels, the letters, the paragraph."""
    p, _, _ = form(bank, text_boxes=True)
    assert read_values(p.gray, recognizer) == FORM_VALUES


def test_form_page_at_300_dpi_reads_every_field(bank, recognizer) -> None:
    p, _, _ = form(bank, scale=3.0)
    assert read_values(p.gray, recognizer) == FORM_VALUES


def test_skewed_form_page_reads_every_field(bank, recognizer) -> None:
    from synthpage import rotate

    p, _, _ = form(bank)
    assert read_values(rotate(p.gray, 7.0), recognizer) == FORM_VALUES


def test_unevenly_lit_form_page_reads_every_field(bank, recognizer) -> None:
    from synthpage import uneven_lighting

    p, _, _ = form(bank)
    assert read_values(uneven_lighting(p.gray, 0.7), recognizer) == FORM_VALUES


def test_free_numbers_are_read_on_a_page_without_boxes(bank, recognizer) -> None:
    p = Page(850, 600)
    h = 30
    x = p.write(spell("123", bank), 60, 100, h, 6)
    p.write(spell("45", bank), x + 3 * h, 100, h, 6)
    p.write(spell("6789", bank), 60, 250, h, 6)
    assert read_values(p.gray, recognizer) == ["123", "45", "6789"]


def test_blank_page_reads_nothing(recognizer) -> None:
    assert read_values(Page(850, 1100).gray, recognizer) == []


@pytest.mark.parametrize("hanging", [False, True])
def test_comb_with_tick_mark_dividers_reads_one_digit_per_cell(bank, recognizer, hanging: bool) -> None:
    """Cells divided by short ticks on one ruling (not full-height lines) are a comb: the ticks
    are rulings, removed, and never read as 1s; the digits are read one per cell."""
    p = Page(850, 500)
    p.text("ROUTING NO.", 60, 90, 0.5)
    value = "2580963"
    cell, h = 34, 44
    corners = p.tick_comb(60, 100, cell, h, len(value), 2, tick=0.3, hanging=hanging)
    for i, (cx, cy) in enumerate(corners):
        p.paint(bank[int(value[i])][i % 3], cx + 7, cy + 8, 26)
    cp = clean.clean_page(p.gray, deskew=False)
    (box,) = fields.find_boxes(cp.mask)
    assert len(box.cells) == len(value)
    assert read_values(p.gray, recognizer) == [value]


def test_comb_zone_erases_its_ticks_but_not_a_stroke_above_one() -> None:
    """A comb found from its rulings in a template zone erases the dividers drawn, where they are
    drawn: a digit's stroke over a cell edge, above a short tick, is kept."""
    from formreader import zones

    p = Page(400, 200)
    p.tick_comb(40, 60, 40, 50, 5, 2, tick=0.3)
    cv2.line(p.gray, (80, 66), (80, 86), 20, 3)  # over the first cell edge, well above its tick
    cp = clean.clean_page(p.gray, deskew=False)
    horiz, _ = fields.line_masks(cp.mask)
    box = zones.comb_box(horiz, (0, 0, 400, 200), 5, cp.mask)
    assert box is not None and len(box.cells) == 5
    iy, ih = box.inner[1], box.inner[3]
    assert len(box.dividers) == 4
    assert all(d[2] >= iy + 0.5 * ih and d[3] == iy + ih for d in box.dividers), box.dividers
    region = fields.box_region(cp.mask, box)
    ox, oy = region.origin
    stroke = region.mask[66 - oy : 84 - oy, 77 - ox : 84 - ox]
    assert stroke.any(axis=1).all(), "the stroke over the cell edge was erased"
    ticks = region.mask[iy + ih - 10 - oy : iy + ih - oy, 118 - ox : 123 - ox]
    assert not ticks.any(), "a tick was left as ink"
