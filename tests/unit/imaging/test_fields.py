"""Field finding on generated pages: boxes, comb fields, rulings crossed by digits, free numbers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from formreader.imaging import boxes, clean, combs, fields, regions, rulings
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
    found = boxes.find_boxes(cp.mask)
    outers = [tuple(int(round(v / cp.scale)) for v in b.outer) for b in found]
    tol = int(4 * scale)
    # 3 filled boxes, the empty one and the comb; the printed label makes no box.
    assert len(found) == 5
    for r in rects:
        assert any(close(o, r, tol) for o in outers), (r, outers)
    comb_boxes = [b for b in found if b.cells]
    assert len(comb_boxes) == 1 and len(comb_boxes[0].cells) == 5
    assert close(outers[found.index(comb_boxes[0])], comb, tol)


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
    out = rulings.remove_rulings(crop, inner, (3, 3, 3, 3))
    n, labels = cv2.connectedComponents(out.astype(np.uint8))
    assert n - 1 == 1  # rulings gone, the stroke is one piece
    assert out[40:75, 50:53].all()
    assert out.sum() <= crop[40:75, 50:53].sum() + 3 * 8  # at most a sliver of ruling kept


def test_writing_that_bulges_over_a_ruling_inside_its_band_is_kept() -> None:
    """The top of a 9's loop drawn on the top ruling pokes two rows above it, still inside the
    band widened for the ruling's wobble: it is writing (the loop is read as a loose cap), the
    ruling under it is not."""
    crop = np.zeros((80, 120), bool)
    crop[20:23, 10:110] = True  # top ruling
    crop[60:63, 10:110] = True  # bottom ruling
    crop[20:63, 10:13] = crop[20:63, 107:110] = True  # sides
    crop[18:20, 50:60] = True  # the loop's top, over the ruling
    crop[23:45, 48:51] = crop[23:45, 59:62] = True  # its sides, hanging from the ruling
    inner = (13, 23, 94, 37)
    out = rulings.remove_rulings(crop, inner, (3, 3, 3, 3))
    assert out[18:20, 50:60].all()  # the bulge stays
    assert not out[20:23, 14:45].any() and not out[20:23, 65:106].any()  # the ruling goes
    assert out[23:45, 48:51].all() and out[23:45, 59:62].all()


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


def test_bars_touching_the_top_ruling_from_inside_are_kept(digits) -> None:
    """Two 7s whose bars hang from the top ruling (like hsf-002's "77"): the bars are not
    ruling, so they neither thicken the ruling found nor go with it when it is erased."""
    p = Page(300, 200)
    p.box(50, 60, 130, 50, 2)  # rows 59-61 are the top ruling
    painted = [p.paint(digits[7][i], x, 61, 40) for i, x in ((0, 75), (1, 120))]
    cp = clean.clean_page(p.gray, deskew=False)
    (box,) = boxes.find_boxes(cp.mask)
    assert box.sides[0] <= 3  # the ruling itself, not ruling + bars
    (region,) = fields.find_regions(cp.mask, "boxes")
    n, _, stats, _ = cv2.connectedComponentsWithStats(region.mask.astype(np.uint8))
    assert n - 1 == 2  # two 7s, each one piece, nothing of the ruling left
    for (x, y, w, h), top, width in zip(painted, stats[1:, cv2.CC_STAT_TOP], stats[1:, cv2.CC_STAT_WIDTH]):
        assert top + region.origin[1] <= y + 2, "the bar went with the ruling"
        assert width >= w - 3


def test_blank_page_has_no_fields() -> None:
    p = Page(850, 1100)
    cp = clean.clean_page(p.gray)
    assert boxes.find_boxes(cp.mask) == []
    assert fields.find_regions(cp.mask) == []


def test_free_numbers_are_grouped_by_line_and_spacing(digits) -> None:
    p = Page(850, 600)
    h = 30
    x = p.write(spell("123", digits), 60, 100, h, 6)
    p.write(spell("45", digits), x + 3 * h, 100, h, 6)  # a wide gap: another number
    p.write(spell("6789", digits), 60, 250, h, 6)  # another line
    cp = clean.clean_page(p.gray, deskew=False)
    assert boxes.find_boxes(cp.mask) == []
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
    # the region's components, labelled once for the line count and the segmenter, count alike
    region = regions.FieldRegion(kind="free", bbox=(0, 0, 200, 100), mask=m, origin=(0, 0), digit_height=15)
    assert region.components is region.components
    assert fields.text_lines(m, region.components[2]) == 3


def test_reading_order_is_by_line_then_left_to_right() -> None:
    rects = [(300, 12, 50, 30), (10, 100, 50, 30), (10, 10, 50, 30), (150, 95, 50, 40)]
    assert regions.reading_order(rects) == [(10, 10, 50, 30), (300, 12, 50, 30),
                                           (10, 100, 50, 30), (150, 95, 50, 40)]


# --- whole pages through read_page: the field finder as the scanner uses it -----------------

@pytest.fixture(scope="module")
def bank(mnist, recognizer):
    """Digits the model reads confidently alone: page tests then measure the page pipeline."""
    from synthpage import pick_digits

    return pick_digits(mnist.x_test, mnist.y_test, recognizer)


FORM_VALUES = ["307", "41", "9562", "13579"]  # three boxes, then the comb field


def read_values(gray: np.ndarray, recognizer) -> list[str]:
    from formreader.reading.page import read_page

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
    (box,) = boxes.find_boxes(cp.mask)
    assert len(box.cells) == len(value)
    assert read_values(p.gray, recognizer) == [value]


def test_comb_zone_erases_its_ticks_but_not_a_stroke_above_one() -> None:
    """A comb found from its rulings in a template zone erases the dividers drawn, where they are
    drawn: a digit's stroke over a cell edge, above a short tick, is kept."""
    from formreader.reading import zones

    p = Page(400, 200)
    p.tick_comb(40, 60, 40, 50, 5, 2, tick=0.3)
    cv2.line(p.gray, (80, 66), (80, 86), 20, 3)  # over the first cell edge, well above its tick
    cp = clean.clean_page(p.gray, deskew=False)
    horiz, _ = rulings.line_masks(cp.mask)
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


# --- speed-ups that must not change a bit ---------------------------------------------------------


def strokes_and_rulings(seed: int, shape: tuple[int, int] = (160, 240)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ink = rng.random(shape) < 0.01
    for _ in range(rng.integers(0, 12)):
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        ink[y : y + rng.integers(1, shape[0]), x : x + rng.integers(1, 3)] = True
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        ink[y : y + rng.integers(1, 3), x : x + rng.integers(1, shape[1])] = True
    return ink


def line_masks_whole_page(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """line_masks by its definition: the same morphology over the whole page."""
    m = mask.astype(np.uint8)
    h, w = m.shape
    lh = max(8, int(round(rulings.H_LINE_FRAC * w)))
    lv = max(6, int(round(rulings.V_LINE_FRAC * h)))
    hm = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((1, 3), np.uint8))
    vm = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((3, 1), np.uint8))
    horiz = cv2.morphologyEx(hm, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (lh, 1)))
    vert = cv2.morphologyEx(vm, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, lv)))
    horiz = cv2.morphologyEx(horiz, cv2.MORPH_CLOSE, np.ones((1, 5), np.uint8))
    vert = cv2.morphologyEx(vert, cv2.MORPH_CLOSE, np.ones((5, 1), np.uint8))
    return horiz, vert


@pytest.mark.parametrize("seed", range(8))
def test_line_masks_on_the_inked_part_equal_the_whole_page(seed: int) -> None:
    ink = strokes_and_rulings(seed)
    page = np.zeros((900, 700), bool)
    for y, x in ((0, 0), (300, 200), (740, 460)):  # touching the top-left corner, inside, bottom-right
        page[y : y + 160, x : x + 240] = ink
        for got, want in zip(rulings.line_masks(page), line_masks_whole_page(page)):
            np.testing.assert_array_equal(got, want)
        page[:] = False
    assert all(not m.any() for m in rulings.line_masks(page))


def extend_by_columns(ink: np.ndarray, x: int, step: int, limit: int, y0: int, y1: int, cap: int) -> int | None:
    """boxes._extend by its definition, one column at a time."""
    H, W = ink.shape
    end = None
    for k in range(limit):
        c = x + step * k
        if not 0 <= c < W or not boxes._rulings_continue(ink, c, c + 1, y0, y1, cap):
            break
        end = c
    else:
        return None
    if end is None:
        return x if step < 0 else x + 1
    c = end
    while (c - x) * step >= 0 and ink[y0:y1, c].mean() >= 0.5:
        c -= step
    return c if step < 0 else c + 1


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")
def test_box_end_search_matches_the_column_by_column_definition() -> None:
    rng = np.random.default_rng(0)
    for _ in range(3000):
        H, W = (int(v) for v in rng.integers(2, 40, 2))
        ink = rng.random((H, W)) < rng.random()
        if rng.random() < 0.5:
            ink[rng.integers(0, H), :] = True
        args = (int(rng.integers(-2, W + 2)), int(rng.choice([-1, 1])), int(rng.integers(-1, 50)),
                int(rng.integers(0, H)), int(rng.integers(1, H + 1)), int(rng.integers(1, 6)))
        assert boxes._extend(ink, *args) == extend_by_columns(ink, *args), args


def test_divider_candidates_match_the_running_product_definition() -> None:
    rng = np.random.default_rng(1)
    for _ in range(2000):
        H, W = (int(v) for v in rng.integers(3, 60, 2))
        ink = rng.random((H, W)) < rng.random()
        ix, iy = int(rng.integers(0, W - 1)), int(rng.integers(0, H - 1))
        inner = (ix, iy, int(rng.integers(1, W - ix + 1)), int(rng.integers(1, H - iy + 1)))
        sides = tuple(int(v) for v in rng.integers(0, 5, 4))
        got = combs.divider_candidates(ink, inner, sides)
        # The definition: unbroken ink from each edge is the running product down the column.
        ix, iy, iw, ih = inner
        ya, yb = max(iy - sides[0], 0), min(iy + ih + sides[1], H)
        ext = cv2.morphologyEx(ink[ya:yb, ix : ix + iw].astype(np.uint8), cv2.MORPH_CLOSE,
                               np.ones((3, 1), np.uint8)) > 0
        up = np.clip(np.cumprod(ext[::-1], axis=0).sum(axis=0) - (yb - (iy + ih)), 0, ih)
        down = np.clip(np.cumprod(ext, axis=0).sum(axis=0) - (iy - ya), 0, ih)
        for centre, a, e, u, d in got:
            assert u == up[a - ix : e - ix].max() and d == down[a - ix : e - ix].max()
        tick = np.maximum(up, down) >= 0.15 * ih
        assert sum(int(tick[a - ix : e - ix].all()) for _, a, e, _, _ in got) == len(got)


def test_keep_inside_matches_the_zone_image_definition() -> None:
    rng = np.random.default_rng(2)
    for _ in range(500):
        H, W = (int(v) for v in rng.integers(3, 60, 2))
        ink = rng.random((H, W)) < rng.random() * 0.6
        x, y = int(rng.integers(0, W - 1)), int(rng.integers(0, H - 1))
        inner = (x, y, int(rng.integers(1, W - x + 1)), int(rng.integers(1, H - y + 1)))
        sides = tuple(int(v) for v in rng.integers(0, 5, 4))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
        x, y, w, h = inner
        keep = np.bincount(labels[y : y + h, x : x + w].ravel(), minlength=n) >= 0.5 * stats[:, 4]
        zone = np.zeros(ink.shape, bool)
        top, bottom, left, right = (max(1, s) for s in sides)
        m = max(2, max(sides))
        zone[max(y - top - m, 0) : y + m] = True
        zone[max(y + h - m, 0) : y + h + bottom + m] = True
        zone[:, max(x - left - m, 0) : x + m] = True
        zone[:, max(x + w - m, 0) : x + w + right + m] = True
        keep &= np.bincount(labels[~zone].ravel(), minlength=n) > 0.1 * stats[:, 4]
        keep[0] = False
        np.testing.assert_array_equal(rulings._keep_inside(ink, inner, sides), keep[labels])


def test_the_loop_of_a_bold_letter_or_digit_is_not_a_box() -> None:
    """A 9 or a bold D has straight enough sides to pass as rulings; its hole is a few strokes
    across, where a writing area is many rulings high (a 9 so taken held a zone's field)."""
    mask = np.zeros((400, 600), bool)
    mask[100:102, 100:300] = mask[160:162, 100:300] = True  # a box 200 x 62, rulings 2 px
    mask[100:162, 100:102] = mask[100:162, 298:300] = True
    mask[250:269, 400:424] = True  # a loop 24 x 19 with strokes 5 px: hole 14 x 9
    mask[255:264, 405:419] = False
    found = boxes.find_boxes(mask)
    assert [b.outer for b in found] == [(100, 100, 200, 62)]
    assert len(boxes.find_boxes(mask, boxes.BoxShape(min_hole_per_ruling=0.0))) == 2  # the loop passes for a box without the rule


def test_two_strokes_hanging_from_the_top_ruling_do_not_make_a_comb() -> None:
    """Two digits touching the top ruling a third of a box apart look like the two ticks of a
    3-cell comb; the box would then be read one digit per cell, losing the digit between."""
    ink = np.zeros((80, 200), bool)
    ink[10:13, 20:173] = ink[63:66, 20:173] = True  # top and bottom rulings, 3 px
    ink[10:66, 20:23] = ink[10:66, 170:173] = True
    inner, sides = (23, 13, 147, 50), (3, 3, 3, 3)
    for x in (71, 120):  # at a third and two thirds of the box, 15 px down from the top
        ink[13:28, x : x + 3] = True
    assert combs._comb_from_dividers(ink, inner, sides) == ((), ())
    assert len(combs._comb_from_dividers(ink, inner, sides, min_tick_cells=3)[0]) == 3  # what a 3-cell rule saw


@pytest.fixture(scope="module")
def test_digits(mnist):
    from formreader.training.drawing import Digits

    return Digits.from_mnist(mnist.x_test, mnist.y_test)


def _box_lines(gray: np.ndarray, shape: boxes.BoxShape = boxes.BoxShape()) -> list[int]:
    return [len(line) for line in regions.box_lines(boxes.find_boxes(clean.clean_page(gray).mask, shape))]


def test_a_box_notched_by_bold_digits_fused_with_its_sides_is_found(test_digits) -> None:
    """A held-out HSF page (bench_accuracy seed 17000, sample 13): a bold 1 and 4 fused with
    the rulings of the "14" box left notches in the mask of rulings that took 23% of its writing
    area; the box was lost and, counted by index, every later field read its neighbour's box."""
    from formreader.training.synth import decode, render

    gray = decode(render("hsf", 17013, test_digits, 200)[0])
    assert _box_lines(gray) == [3, 3, 5, 5, 5, 5, 5, 1]
    rectangles_only = boxes.BoxShape(notched_fill=boxes.MIN_HOLE_FILL)
    assert _box_lines(gray, rectangles_only) == [3, 3, 5, 5, 4, 5, 5, 1]


def test_neither_the_loop_of_a_bold_0_nor_a_broken_comb_is_a_notched_box(test_digits) -> None:
    from formreader.training.synth import decode, render

    # A meter card (seed 7000, sample 0): a bold 0 whose loop fills 78% of its rectangle, as an
    # ellipse does; taken for a box, it held the meter zone, which then read nothing.
    card = decode(render("numbers", 7000, test_digits, 150)[0])
    assert boxes.find_boxes(clean.clean_page(card).mask) == []
    # A golden cheque: digits written across the date comb's dividers join its cells into one
    # hole with six notches; read as a plain box, the dividers became 1s.
    sample = Path(__file__).resolve().parents[3] / "samples" / "cheque-004.jpg"
    cheque = clean.clean_page(cv2.imread(str(sample), cv2.IMREAD_GRAYSCALE)).mask
    n = len(boxes.find_boxes(cheque))
    assert len(boxes.find_boxes(cheque, boxes.BoxShape(max_notches=10))) == n + 1


def test_boxes_drawn_a_few_pixels_apart_stay_two_and_a_1_does_not_split_a_box() -> None:
    """Two boxes drawn 3 px apart and touching at a corner (one network of rulings) are two
    boxes (merged, a line of four HSF boxes on a held-out page read as one); a bold 1 touching
    both rulings of one box is a stroke, and the box stays one."""
    mask = np.zeros((300, 600), bool)
    for x0 in (100, 203):  # box A 100-200, box B 203-403
        mask[100:102, x0 : x0 + 200 if x0 == 203 else 200] = True
        mask[160:162, x0 : x0 + 200 if x0 == 203 else 200] = True
    for x in (100, 198, 203, 401):
        mask[100:162, x : x + 2] = True
    mask[100:103, 198:205] = True  # the corners touch
    mask[200:202, 100:300] = mask[260:262, 100:300] = True  # a third box, below ...
    mask[200:262, 100:102] = mask[200:262, 298:300] = True
    mask[202:260, 180:185] = True  # ... split by a bold 1 from ruling to ruling
    outer = sorted(b.outer for b in boxes.find_boxes(mask))
    assert outer == [(100, 100, 100, 62), (100, 200, 200, 62), (203, 100, 200, 62)]
    assert len(boxes.find_boxes(mask, boxes.BoxShape(paper_column=-1.0))) == 2  # no paper column counts
