"""Segmentation of one field: touching digits split, broken digits merged, punctuation dropped.

Fields are painted from MNIST *test* digits that the model reads confidently on their own, so
these tests measure the cutting and merging, not the model's hardest digits.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formreader.imaging import clean, normalize
from formreader.reading import decode, schedule, segment
from synthpage import INK, Page, digits_for, ink_width, pick_digits

H = 40  # digit height in pixels, about 150 dpi


@pytest.fixture(scope="module")
def bank(mnist, recognizer):
    return pick_digits(mnist.x_test, mnist.y_test, recognizer)


def field_mask(page: Page) -> np.ndarray:
    return clean.otsu(page.gray)


def read(mask: np.ndarray, recognizer, cells=()) -> decode.Reading:
    return schedule.read_region(mask, recognizer, digit_height=H, cells=cells)


def test_cut_columns_finds_the_neck_between_two_blobs() -> None:
    m = np.zeros((40, 70), bool)
    cv2.circle(m.view(np.uint8), (18, 20), 15, 1, 3)
    cv2.circle(m.view(np.uint8), (50, 20), 15, 1, 3)
    m[19:22, 30:40] = True  # a bridge at columns 30-39
    cuts = segment.cut_columns(m, 40)
    assert any(31 <= c <= 38 for c in cuts)


def test_atoms_of_drops_specks_and_keeps_small_marks() -> None:
    m = np.zeros((50, 100), bool)
    m[5:45, 10:14] = True  # a 1
    m[40:45, 40:45] = True  # a full stop: small but not dust
    m[20, 80] = True  # dust
    atoms = segment.atoms_of(m, 40)
    assert [a.rect[0] for a in atoms] == [10, 40]


def test_estimate_digit_height_ignores_punctuation() -> None:
    m = np.zeros((60, 200), bool)
    for x in (10, 50, 90):
        m[10:46, x : x + 5] = True
    m[40:46, 130:136] = True
    assert segment.estimate_digit_height(m, 40) == 36


def test_empty_field_reads_nothing(recognizer) -> None:
    assert read(np.zeros((50, 200), bool), recognizer).digits == []


def _touching(value: str, bank, offset: int) -> Page:
    """Digits pressed together: each overlaps its neighbour by a fifth of its width."""
    ims = digits_for(value, bank, offset)
    p = Page(60 + sum(ink_width(d, H) for d in ims), 80)
    x = 20
    for d in ims:
        x0, _, w, _ = p.paint(d, x, 20, H)
        x = x0 + w - max(2, w // 5)
    return p


def test_touching_digits_are_split(bank, recognizer) -> None:
    values = ["38", "50", "27", "04", "96", "123", "45", "61", "89", "70"]
    right = touched = 0
    for i, v in enumerate(values):
        mask = field_mask(_touching(v, bank, i))
        n = cv2.connectedComponents(mask.astype(np.uint8))[0] - 1
        touched += n < len(v)
        right += read(mask, recognizer).value == v
    print(f"touching: {right}/{len(values)} read right ({touched} with digits joined)")
    assert touched >= len(values) // 2  # the test makes touching digits
    assert right >= len(values) - 2


def test_broken_digits_are_merged(bank, recognizer) -> None:
    right = broken = 0
    values = ["4", "7", "5", "8", "0", "2", "3", "9"]
    for i, v in enumerate(values):
        p = Page(120, 90)
        x, y, w, h = p.paint(digits_for(v, bank, i)[0], 40, 20, H)
        p.gray[y + h // 2 - 1 : y + h // 2 + 2, x - 2 : x + w + 2] = 245  # a light pen skips
        mask = field_mask(p)
        broken += cv2.connectedComponents(mask.astype(np.uint8))[0] - 1 > 1
        right += read(mask, recognizer).value == v
    print(f"broken: {right}/{len(values)} read right ({broken} in pieces)")
    assert broken >= len(values) // 2
    assert right >= len(values) - 1


def test_a_loose_top_bar_is_read_with_its_digit(bank, recognizer) -> None:
    """A 5's or a 7's bar, or the top of a 9's loop, comes loose when a light pen skips below
    it: alone it is no digit, and the rest reads as a sure 6, 1, 4 or 7, so it must not be
    dropped (a decoder that skips it cheaply reads 5 of these 36 wrong, all of them 9s)."""
    right, loose, total = 0, 0, 0
    for frac, gap in ((0.25, 3), (0.3, 2)):
        for v in "579":
            for i in range(6):
                p = Page(120, 90)
                x, y, w, h = p.paint(digits_for(v, bank, i)[0], 40, 20, H)
                cut = y + int(frac * h)
                p.gray[cut : cut + gap, x - 2 : x + w + 2] = 245  # the pen skips below the top
                mask = field_mask(p)
                loose += cv2.connectedComponents(mask.astype(np.uint8))[0] - 1 > 1
                right += read(mask, recognizer).value == v
                total += 1
    print(f"loose tops: {right}/{total} read right ({loose} in pieces)")
    assert loose >= total - 4
    assert right >= total - 1


def test_small_marks_on_top_of_a_digit_are_caps_and_marks_beside_it_are_not() -> None:
    tall = segment.Atom((20, 10, 14, H), np.ones((H, 14), bool), True, 1)
    def cap(rect: tuple[int, int, int, int]) -> bool:
        small = segment.Atom(rect, np.ones(rect[:1:-1], bool), True, 2)
        atoms = sorted([tall, small], key=lambda a: a.rect[0] + a.rect[2] / 2)
        lat = segment.Lattice(atoms, [], float(H))
        return decode._caps(lat, decode._digit_high(lat))[atoms.index(small)]
    assert cap((22, 4, 14, 4))  # a 5's bar, above the digit and over its columns
    assert cap((12, 8, 9, 5))  # a 7's bar reaching left, a pixel short of the stem
    assert not cap((38, 40, 5, 9))  # a comma after the digit, on its baseline
    assert not cap((42, 28, 10, 3))  # a dash a gap away
    assert not cap((22, 30, 8, 8))  # a mark over the digit's lower half


@pytest.mark.parametrize("mark", ["dot", "comma", "dash"])
def test_punctuation_between_digits_is_dropped(bank, recognizer, mark: str) -> None:
    right = 0
    values = ["1234", "5678", "9021"]
    for i, v in enumerate(values):
        ims = digits_for(v, bank, i)
        p = Page(80 + sum(ink_width(d, H) for d in ims) + 30, 90)
        x = p.write(ims[:2], 20, 20, H, 6)
        cx, base = x + 14, 20 + H
        if mark == "dot":
            cv2.circle(p.gray, (cx, base - 3), 3, INK, -1)
        elif mark == "comma":
            cv2.circle(p.gray, (cx, base - 3), 3, INK, -1)
            cv2.line(p.gray, (cx + 2, base - 2), (cx - 3, base + 7), INK, 2)
        else:
            cv2.line(p.gray, (cx - 7, 20 + H // 2), (cx + 7, 20 + H // 2), INK, 3)
        p.write(ims[2:], x + 28, 20, H, 6)
        right += read(field_mask(p), recognizer).value == v
    assert right == len(values)


def test_comb_cells_give_one_digit_each(bank, recognizer) -> None:
    p = Page(340, 90)
    cells = []
    for i, v in enumerate("80517"):
        x = 10 + 64 * i
        p.paint(digits_for(v, bank, i)[0], x + 8, 20, H)
        cells.append((x, 10, 64, 60))
    r = read(field_mask(p), recognizer, cells=tuple(cells))
    assert r.value == "80517"
    assert all(d.rect[0] >= c[0] and d.rect[0] + d.rect[2] <= c[0] + c[2] for d, c in zip(r.digits, cells))


def _stats(mask: np.ndarray) -> np.ndarray:
    return cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)[2]


def test_digits_written_across_the_comb_are_read_as_free_handwriting(bank, recognizer) -> None:
    # Each digit sits on a divider, half in one cell and half in the next: one digit per cell
    # would fuse halves of neighbours. The free reading has as many digits as the comb has cells.
    p = Page(400, 90)
    cells = tuple((10 + 64 * i, 10, 64, 60) for i in range(5))
    for i, v in enumerate("80517"):
        p.paint(digits_for(v, bank, i)[0], 10 + 64 * i + 44, 20, H)
    mask = field_mask(p)
    assert not segment._written_in_cells(_stats(mask), H, cells)
    assert read(mask, recognizer, cells=cells).value == "80517"


def test_a_digit_inside_its_cell_fits_the_comb() -> None:
    mask = np.zeros((60, 200), bool)
    mask[10:50, 20:40] = True  # cell 0 is x 0-63
    mask[10:50, 70:95] = True  # cell 1 is x 64-127
    mask[5:8, 60:70] = True  # a speck across the divider is not digit-high
    cells = ((0, 0, 64, 60), (64, 0, 64, 60), (128, 0, 64, 60))
    assert segment._written_in_cells(_stats(mask), 40, cells)
    mask[10:50, 115:140] = True  # half in cell 1, half in cell 2
    assert not segment._written_in_cells(_stats(mask), 40, cells)


def test_letters_are_skipped_as_marks(recognizer) -> None:
    p = Page(400, 90)
    cv2.putText(p.gray, "xWy", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, INK, 3)
    r = read(field_mask(p), recognizer)
    assert r.marks >= 2
    assert r.skipped_marks + sum(d.confidence < 0.5 for d in r.digits) >= 2


def test_a_bold_digit_wider_than_a_digit_is_read_whole(recognizer) -> None:
    """One blob of ink wider than MAX_DIGIT_WIDTH (a bold, flattened 0) is still a candidate
    whole, not only the slices it is cut into."""
    m = np.zeros((60, 120), np.uint8)
    cv2.ellipse(m, (60, 30), (36, 17), 0, 0, 360, 1, 6)
    lattice = segment.segment_field(m.astype(bool), H)
    assert max(c.rect[2] for c in lattice.candidates) > segment.MAX_DIGIT_WIDTH * lattice.digit_height
    assert any(c.start == 0 and c.end == len(lattice.atoms) for c in lattice.candidates)
    assert read(m.astype(bool), recognizer).value == "0"


def _lattice(widths: list[int], forced: bool = False) -> segment.Lattice:
    """Whole, digit-high atoms side by side, one candidate each (crops unused by decode)."""
    atoms, cands = [], []
    for k, x in enumerate(np.cumsum([0, *widths[:-1]]) * 2):
        rect = (int(x), 0, widths[k], H)
        atoms.append(segment.Atom(rect, np.ones((H, widths[k]), bool), True, k + 1))
        cands.append(segment.Candidate(k, k + 1, rect, crop=np.zeros((28, 28), np.float32)))
    return segment.Lattice(atoms, cands, float(H), forced=forced)


def _probs(*rows: tuple[int, float, float]) -> np.ndarray:
    """(digit, P(digit), P(reject)) per candidate; the rest spread over the other digits."""
    out = np.zeros((len(rows), 11), np.float32)
    for i, (d, p, rej) in enumerate(rows):
        out[i, :10] = (1 - p - rej) / 9
        out[i, d], out[i, decode.REJECT] = p, rej
    return out


def test_a_doubtful_thin_mark_between_digits_is_read_but_at_an_end_is_skipped() -> None:
    thin = (1, 0.33, 0.66)  # a thin 1 that the model half takes for a scrap of box line
    middle = decode.decode(_lattice([14, 5, 14]), _probs((4, 1.0, 0), thin, (9, 1.0, 0)))
    assert middle.value == "419" and middle.skipped_marks == 0
    end = decode.decode(_lattice([14, 14, 5]), _probs((4, 1.0, 0), (9, 1.0, 0), thin))
    assert end.value == "49" and end.skipped_marks == 1


def test_a_digit_high_mark_in_a_comb_cell_is_dropped_only_when_surely_not_a_digit() -> None:
    lat = _lattice([14, 14, 14], forced=True)
    r = decode.decode(lat, _probs((1, 0.27, 0.66), (2, 1.0, 0), (3, 0.02, 0.95)))
    assert r.value == "12" and r.skipped_marks == 1
    assert r.digits[0].confidence == pytest.approx(0.27)


def _shorten(lat: segment.Lattice, k: int, height: int) -> segment.Lattice:
    """The lattice with atom k (and its candidate) ``height`` pixels tall."""
    x, _, w, _ = lat.atoms[k].rect
    rect = (x, H - height, w, height)
    lat.atoms[k] = segment.Atom(rect, np.ones((height, w), bool), True, k + 1)
    lat.candidates[k] = segment.Candidate(k, k + 1, rect, crop=np.zeros((28, 28), np.float32))
    return lat


def test_a_small_digit_alone_in_a_comb_cell_is_read_when_surely_a_digit() -> None:
    small = int(0.45 * H)  # below MIN_DIGIT_HEIGHT, above COMB_MIN_HEIGHT
    assert decode.COMB_MIN_HEIGHT * H <= small < segment.MIN_DIGIT_HEIGHT * H
    sure = _probs((1, 1.0, 0), (2, 0.96, 0.04), (3, 1.0, 0))
    assert decode.decode(_shorten(_lattice([14, 14, 14], forced=True), 1, small), sure).value == "123"
    doubtful = _probs((1, 1.0, 0), (2, 0.6, 0.3), (3, 1.0, 0))
    assert decode.decode(_shorten(_lattice([14, 14, 14], forced=True), 1, small), doubtful).value == "13"
    dot = int(0.25 * H)  # a dot or a tick: never a digit, however it is read
    assert decode.decode(_shorten(_lattice([14, 14, 14], forced=True), 1, dot), sure).value == "13"


class CountingRecognizer:
    """Wraps the recognizer to count the candidate crops it is asked to classify (a second look
    at doubtful digits read is passed through uncounted)."""

    def __init__(self, recognizer) -> None:
        self.inner, self.crops = recognizer, 0

    def classify(self, crops: np.ndarray, screen_confidence: float | None = None):
        self.crops += len(crops)
        return self.inner.classify(crops, screen_confidence)

    def look_again(self, crops: np.ndarray) -> np.ndarray:
        return self.inner.look_again(crops)


def test_clear_separate_digits_are_read_from_their_blobs_alone(bank, recognizer) -> None:
    """Classifying cuts and merges is for fields in doubt: a field of clear, separate digits
    costs one crop per digit and reads what the full search reads."""
    p = Page(400, 90)
    p.write(digits_for("80517", bank), 20, 20, H, 22)
    mask = field_mask(p)
    lattice = segment.segment_field(mask, H)
    reused = segment.segment_field(mask, H, components=clean.components_with_centroids(mask))
    assert [c.rect for c in reused.candidates] == [c.rect for c in lattice.candidates]
    counting = CountingRecognizer(recognizer)
    (reading,) = schedule.read_lattices([lattice], counting)
    _, probs = recognizer.classify(lattice.crops)
    assert reading.value == decode.decode(lattice, probs).value == "80517"
    assert counting.crops == 5 < len(lattice.candidates)


def test_a_field_the_caller_gives_up_on_is_not_searched(recognizer) -> None:
    p = Page(400, 90)
    cv2.putText(p.gray, "xWyk", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, INK, 3)
    lattice = segment.segment_field(field_mask(p), H)
    counting = CountingRecognizer(recognizer)
    schedule.read_lattices([lattice, None], counting, give_up=lambda r: True)
    singles = sum(1 for c in lattice.candidates if schedule._is_blob(lattice, c))
    assert counting.crops == singles < len(lattice.candidates)


def _with_merge(lattice: segment.Lattice, start: int, end: int) -> segment.Lattice:
    """The lattice plus one candidate reading atoms [start, end) as one digit."""
    rect = segment._union([a.rect for a in lattice.atoms[start:end]])
    merged = segment.Candidate(start, end, rect, crop=np.zeros((28, 28), np.float32))
    return segment.Lattice(lattice.atoms, lattice.candidates + [merged], lattice.digit_height)


def test_a_reading_too_long_for_its_field_is_read_again_within_its_length() -> None:
    """A broken 4 whose two pieces read as a sure 4 and a sure 1 (`41`), where the field holds
    two digits: the likeliest two-digit reading takes the pieces as one 4."""
    lattice = _with_merge(_lattice([14, 8, 6]), 1, 3)
    probs = _probs((7, 0.99, 0), (4, 0.97, 0), (1, 0.98, 0), (4, 0.6, 0))
    assert decode.decode(lattice, probs).value == "741"
    fitted = decode.decode_counted(lattice, probs, lambda n: n == 2)
    assert fitted is not None and fitted.value == "74" and fitted.spans == [(0, 1), (1, 3)]
    assert decode.decode_counted(lattice, probs, lambda n: n == 5) is None  # no such path


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.floats(0.05, 0.95), st.floats(0.0, 0.04)), min_size=4, max_size=4))
def test_counted_decoding_with_any_count_is_plain_decoding(rows) -> None:
    lattice = _with_merge(_lattice([14, 10, 14]), 0, 2)
    probs = _probs(*rows)
    plain, counted = decode.decode(lattice, probs), decode.decode_counted(lattice, probs, lambda n: True)
    assert counted is not None and (counted.value, counted.spans) == (plain.value, plain.spans)


def test_length_rules_of_fields() -> None:
    from formreader.config import FieldSpec
    from formreader.rules.validate import digit_count_rule

    def rule(**kw):
        return digit_count_rule(FieldSpec(name="f", index=0, **kw))

    assert rule() is None
    assert [rule(length=9)(n) for n in (8, 9)] == [False, True]
    assert [rule(length=[5, 9])(n) for n in (5, 7, 9)] == [True, False, True]
    assert [rule(min_length=2, max_length=6)(n) for n in (1, 2, 6, 7)] == [False, True, True, False]
    assert [rule(type="date", format="MMDDYYYY")(n) for n in (7, 8)] == [False, True]


def _field_80517(bank, comb: bool) -> tuple[Page, tuple[tuple[int, int, int, int], ...]]:
    """``80517`` written as free handwriting, or one digit per comb cell (and the cells)."""
    if not comb:
        p = Page(400, 90)
        p.write(digits_for("80517", bank), 20, 20, H, 22)
        return p, ()
    p = Page(340, 90)
    for i, v in enumerate("80517"):
        p.paint(digits_for(v, bank, i)[0], 10 + 64 * i + 8, 20, H)
    return p, tuple((10 + 64 * i, 10, 64, 60) for i in range(5))


def _plain_and_shaded(mask: np.ndarray, gray: np.ndarray,
                      cells: tuple[tuple[int, int, int, int], ...]) -> tuple[segment.Lattice, segment.Lattice]:
    """The field's lattice from its mask alone, and shaded from ``gray``."""
    dark = normalize.field_darkness(gray, mask)
    assert dark is not None
    return segment.segment_field(mask, H, cells), segment.segment_field(mask, H, cells, darkness=dark)


@pytest.mark.parametrize("comb", [False, True])
def test_a_grey_field_gives_shaded_crops_of_the_same_marks(bank, recognizer, comb) -> None:
    """Shading changes a crop's grey levels only: the same candidates, the same ink (pixels
    >= 0.5 before scaling), anti-aliased edges like MNIST's, and the same reading."""
    p, cells = _field_80517(bank, comb)
    plain, shaded = _plain_and_shaded(field_mask(p), p.gray, cells)
    assert [(c.start, c.end, c.rect) for c in shaded.candidates] == [(c.start, c.end, c.rect) for c in plain.candidates]
    soft = [((c.crop > 0.05) & (c.crop < 0.95)).sum() for c in shaded.candidates]
    hard = [((c.crop > 0.05) & (c.crop < 0.95)).sum() for c in plain.candidates]
    assert sum(soft) > 1.3 * sum(hard)
    for a, b in zip(plain.candidates, shaded.candidates):  # the same box and the same place
        ra, rb = np.flatnonzero(a.crop.any(axis=1)), np.flatnonzero(b.crop.any(axis=1))
        assert abs(ra[0] - rb[0]) <= 2 and abs(ra[-1] - rb[-1]) <= 2
    (reading,) = schedule.read_lattices([shaded], recognizer)
    assert reading.value == "80517"


@pytest.mark.parametrize("comb", [False, True])
def test_a_bilevel_field_reads_exactly_as_its_mask(bank, comb) -> None:
    """A bilevel scan has no grey levels to add: its crops are the mask's, bit for bit."""
    p, cells = _field_80517(bank, comb)
    mask = field_mask(p)
    plain, shaded = _plain_and_shaded(mask, np.where(mask, 0, 255).astype(np.uint8), cells)
    np.testing.assert_array_equal(shaded.crops, plain.crops)


def test_a_small_ring_beside_a_digit_may_be_a_zero_and_a_dot_or_a_loop_over_a_stroke_may_not() -> None:
    dh = 40
    mask = np.zeros((60, 200), np.uint8)
    cv2.line(mask, (20, 10), (20, 50), 1, 3)  # a 1
    cv2.circle(mask, (45, 22), 7, 1, 2)  # a small ring beside it, ~0.4 of its height
    cv2.circle(mask, (80, 45), 4, 1, -1)  # a solid dot on the line
    cv2.line(mask, (130, 20), (130, 50), 1, 3)  # a stroke with a small loop over its columns
    cv2.circle(mask, (132, 14), 7, 1, 2)
    atoms = segment.atoms_of(mask.astype(bool), dh)
    rings = segment._small_zeros(atoms, dh)
    found = sorted(int(atoms[i].rect[0]) for i in rings)
    assert found == [37], [a.rect for a in atoms]
    assert segment.is_ring(np.pad(np.ones((8, 8), bool), 1) ^ np.pad(np.pad(np.ones((4, 4), bool), 2), 1))
    assert not segment.is_ring(np.ones((8, 8), bool)) and not segment.is_ring(np.zeros((0, 0), bool))
