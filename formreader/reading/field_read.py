"""A field image -> one Field: the number it holds, what was written around its digits, and
whether a person should look.

The crop is cleaned (:mod:`formreader.imaging.crop_clean`), the marks of the number are picked out
(:func:`select_number`: the main line of writing, not print or a second line above it), and
the digits are read by the page scanner's own segmenter and recognizer
(:mod:`formreader.reading.segment`). What the decoder skipped is kept as written: a dot or comma
between digits, a trailing dash (:func:`written_text`), so ``value`` holds the digits and
``text`` the number as written (``1.480.000``, ``25,50``, ``1500-``). The string reader
(:mod:`formreader.recognizer.strings`) reads the same marks without cutting them, and the two are judged
together (:mod:`formreader.reading.judge`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from formreader.imaging.clean import components
from formreader.imaging.crop_clean import WORK_HEIGHT, CleanField, clean_field, estimate_slant, shear_rows
from formreader.imaging.crop_rulings import stroke_width
from formreader.imaging.faint import faint_marks
from formreader.imaging.geometry import MaskRect
from formreader.imaging.normalize import field_darkness
from formreader.imaging.stats import median
from formreader.reading.decode import Reading
from formreader.reading.judge import second_opinion, string_reader_for
from formreader.reading.page import digit_reasons
from formreader.reading.schedule import read_lattices
from formreader.reading.segment import Atom, Candidate, Lattice, has_hole, segment_field
from formreader.recognizer.model import Recognizer
from formreader.results import Digit, Field, ScanOptions

Rect = MaskRect  # the number's mask: a field image's working pixels

# The digit height (working pixels) fields are read at, and the most a crop is enlarged to get
# there: page digits are read at 20-40 px; smaller, a pen stroke fills a 6's or an 8's loop.
DIGIT_PX = 36.0
# A field image's digits read below this have the second look (schedule.look_again), not only
# those below the review threshold as on a page. Why: a crop has no form around it to
# corroborate a reading: of the development books' ok fields whose weakest digit was read at
# 0.9-0.99, 35 of 412 were wrong, against 67 of 3,142 above. On those books' 4,812 crops it
# sends 75 ok fields to review, 12 of them wrong (a joined 21 read as 4, a 35 as 85, a 21 as 71),
# changes no value, and costs no measurable time (about two digits a crop, read four ways).
FIELD_LOOK_AGAIN_BELOW = 0.99
MAX_ENLARGE = 3.0
MIN_SHEAR = 0.05  # a slant below this (~3 degrees) is left alone
ROI_PAD = 1.0  # digit heights of crop kept around the number when it is cleaned again
# Marks at least this share of the tallest mark are digit-high (the rest: dots, dashes, specks).
DIGIT_HIGH = 0.5
# Two marks are on one line of writing when their vertical centres are within this many digit
# heights; a mark further than GROUP_GAP digit heights from the number's marks is not part of it.
SAME_LINE = 0.6
GROUP_GAP = 1.5
# A mark at least this many times as wide as it is high is flat: a dash or a line, not a digit.
FLAT = 2.5
# A ruling's sliver: this many times as tall as the writing, at most SLIVER_WIDTH pen widths wide.
SLIVER_HEIGHT = 1.5
SLIVER_WIDTH = 2.5
# A 1 beside a digit, however tall its up-stroke, stands on that digit's foot line (within
# ONE_FOOT digit heights) and is at most ONE_HEIGHT digit heights high.
ONE_HEIGHT = 2.5
ONE_FOOT = 0.5
# A mark lower than this many pen widths is a dot or a speck, never a digit's height.
DOT_PENS = 2.0


@dataclass
class NumberMarks:
    """The ink of a field's number and what else the crop holds."""

    mask: np.ndarray  # bool, the number's marks only (crop size)
    digit_height: float
    notes: list[str] = field(default_factory=list)  # other lines, marks apart: review reasons
    dashes: str = ""  # what a field without digit-high marks holds: "-" per flat mark, left to right


def _dashes(stats: np.ndarray) -> str:
    """A ``-`` for each flat mark of a field that holds nothing else."""
    return "-" * max(0, stats.shape[0] - 1)


def _lines_of(stats: np.ndarray, big: np.ndarray, dh: float) -> list[list[int]]:
    """Digit-high marks (component indices) grouped into lines by their vertical centres."""
    order = sorted(np.flatnonzero(big) + 1, key=lambda i: stats[i, 1] + stats[i, 3] / 2.0)
    lines: list[list[int]] = []
    for i in order:
        cy = stats[i, 1] + stats[i, 3] / 2.0
        for line in lines:
            ly = float(np.mean([stats[j, 1] + stats[j, 3] / 2.0 for j in line]))
            if abs(cy - ly) < SAME_LINE * dh:
                line.append(int(i))
                break
        else:
            lines.append([int(i)])
    return lines


def _cluster(stats: np.ndarray, line: list[int], dh: float, centre: float) -> tuple[list[int], int]:
    """The marks of a line that form one number (gaps below GROUP_GAP digit heights), the group
    with the most ink, nearest ``centre`` on a tie; and how many digit-high marks were left."""
    line = sorted(line, key=lambda i: stats[i, 0])
    groups: list[list[int]] = [[line[0]]]
    for i in line[1:]:
        right = max(stats[j, 0] + stats[j, 2] for j in groups[-1])
        if stats[i, 0] - right > GROUP_GAP * dh:
            groups.append([i])
        else:
            groups[-1].append(i)

    def key(g: list[int]) -> tuple[float, float]:
        x0 = min(stats[j, 0] for j in g)
        x1 = max(stats[j, 0] + stats[j, 2] for j in g)
        return (float(sum(stats[j, cv2.CC_STAT_AREA] for j in g)), -abs((x0 + x1) / 2.0 - centre))

    best = max(groups, key=key)
    return best, len(line) - len(best)


def _written_like_a_one(stats: np.ndarray, digits: np.ndarray, ref: float) -> np.ndarray:
    """Per mark (component ``k + 1``): whether it stands on the foot line of one of ``digits``
    (a mask over the marks) within GROUP_GAP of it, and is at most ONE_HEIGHT times ``ref``
    (the writing's height) high, as a 1 written with a long up-stroke does."""
    out = np.zeros(len(digits), bool)
    idx = np.flatnonzero(digits) + 1
    if not idx.size:
        return out
    for k in range(len(digits)):
        x, y, w, h = (float(v) for v in stats[k + 1, :4])
        if h > ONE_HEIGHT * ref:
            continue
        foot = y + h
        for j in idx:
            jx, jy, jw, jh = (float(v) for v in stats[j, :4])
            near = max(jx - (x + w), x - (jx + jw)) <= GROUP_GAP * ref
            if near and abs(jy + jh - foot) <= ONE_FOOT * ref:
                out[k] = True
                break
    return out


def _slivers(stats: np.ndarray, heights: np.ndarray, widths: np.ndarray, pen: float) -> np.ndarray:
    """Per mark, whether it is a sliver: a piece of a ruling left by the line finder (a worn
    column line, the shadow of the page's edge), thin (a straight upright line, at most SLIVER_WIDTH pen widths across; a
    1 or a 4 leans, and its box is wider) and far taller than the writing, whose height is
    measured on the marks that are not thin and are digit-high beside the tallest of them (not
    print, specks or a 5's loose bar). Measured beside the tallest mark of all, a long sliver
    would make every digit of a small number count as print, and itself the number. A full stop
    or a speck (under DOT_PENS pen widths high) never measures the writing: beside it, the 1 of
    "1." would be a sliver. A thin mark standing on the foot line of a digit next to it, at most
    ONE_HEIGHT times its height, is a 1 written with a long up-stroke."""
    thin = widths <= SLIVER_WIDTH * pen
    sized = heights >= DOT_PENS * pen
    stout = heights[~thin & sized]
    stout = stout[stout >= DIGIT_HIGH * stout.max()] if stout.size else stout
    ref = median(stout) if stout.size else median(heights[sized]) if sized.any() else median(heights[heights > 0])
    sliver = thin & (heights > SLIVER_HEIGHT * ref)
    if sliver.any():
        sliver &= ~_written_like_a_one(stats, sized & ~sliver & (heights >= DIGIT_HIGH * ref), ref)
    return sliver


def select_number(mask: np.ndarray) -> NumberMarks:
    """The marks that make up the crop's number: the line of digit-high writing with the most
    ink (a crossed-out number above it, the print of the form below it are other lines), its
    marks within GROUP_GAP digit heights of each other, and the small marks (dots, commas,
    dashes) that sit on that line between or just after them."""
    w = mask.shape[1]
    if not mask.any():
        return NumberMarks(np.zeros_like(mask), 0.0)
    n, labels, stats = components(mask)
    if n <= 1:
        return NumberMarks(np.zeros_like(mask), 0.0)
    heights = stats[1:, cv2.CC_STAT_HEIGHT].astype(float)
    widths = stats[1:, cv2.CC_STAT_WIDTH].astype(float)
    # Flat marks (dashes, strokes through a field, what is left of an underline) are never a
    # digit's height: a field of dashes alone has no number (its text keeps the dash).
    flat = widths >= FLAT * heights
    heights = np.where(flat, 0.0, heights)
    if not heights.any():
        return NumberMarks(np.zeros_like(mask), 0.0, dashes=_dashes(stats))
    sliver = _slivers(stats, heights, widths, stroke_width(mask))
    if sliver.any() and not sliver.all():
        heights = np.where(sliver, 0.0, heights)
    big = heights >= DIGIT_HIGH * float(heights.max())
    dh = median(heights[big])
    lines = _lines_of(stats, big, dh)

    def ink(line: list[int]) -> float:
        return float(sum(stats[i, cv2.CC_STAT_AREA] * stats[i, cv2.CC_STAT_HEIGHT] for i in line))

    main = max(lines, key=ink)
    chosen, apart = _cluster(stats, main, dh, w / 2.0)
    others = sum(1 for line in lines if line is not main and ink(line) >= 0.25 * ink(main))
    dh = median(stats[chosen, cv2.CC_STAT_HEIGHT].astype(float))
    # The band of the number's line and its extent, widened for small marks beside it.
    y0 = min(stats[i, 1] for i in chosen)
    y1 = max(stats[i, 1] + stats[i, 3] for i in chosen)
    x0 = min(stats[i, 0] for i in chosen) - 0.5 * dh
    x1 = max(stats[i, 0] + stats[i, 2] for i in chosen) + 1.0 * dh
    keep = np.zeros(n, bool)
    keep[chosen] = True
    for i in range(1, n):
        if keep[i] or big[i - 1]:
            continue
        x, y, cw, ch = (int(v) for v in stats[i, :4])
        cy = y + ch / 2.0
        small = not sliver[i - 1] and ch < DIGIT_HIGH * dh and cw <= 1.5 * dh  # no ruling, no line
        if small and x >= x0 and x + cw <= x1 and y0 - 0.3 * dh <= cy <= y1 + 0.3 * dh:
            keep[i] = True
    # A line as high as writing where it passes the number: a digit stuck to a ruling the
    # cleaning left (a box's side or bottom on a skewed crop) is in it, and the digits read
    # without it may be one short.
    stuck = sum(1 for i in np.flatnonzero(flat) + 1
                if stats[i, 3] >= DIGIT_HIGH * dh and stats[i, 1] < y1 and stats[i, 1] + stats[i, 3] > y0
                and stats[i, 0] < x1 and stats[i, 0] + stats[i, 2] > x0)
    notes = []
    if others:
        notes.append(f"{others} other line(s) of writing in the image")
    if apart:
        notes.append(f"{apart} mark(s) apart from the number")
    if stuck:
        notes.append(f"{stuck} line(s) with writing stuck to them")
    return NumberMarks(keep.take(labels.astype(np.intp)), float(dh), notes)


# A skipped mark is a separator when it is at most this share of the digit height high
# (dot, comma) or this flat (a dash: at least DASH_ASPECT times as wide as high).
SEPARATOR_HEIGHT = 0.5
DASH_ASPECT = 1.8


def _separator(rect: Rect, band: tuple[float, float], dh: float) -> str | None:
    """What a small mark beside the digits was written as: ``.``, ``,``, ``-``, or None."""
    x, y, w, h = rect
    top, bottom = band
    if w >= DASH_ASPECT * h and h <= SEPARATOR_HEIGHT * dh and w <= 1.5 * dh:
        cy = y + h / 2.0
        return "-" if top + 0.2 * dh <= cy <= bottom - 0.05 * dh else None
    if h <= SEPARATOR_HEIGHT * dh and w <= SEPARATOR_HEIGHT * dh:
        if y + h / 2.0 < top + 0.55 * (bottom - top):
            return None  # a dot up in the air: an accent or a speck, not a separator
        # A comma hangs below the line, or is at least twice as high as wide; a dot is round.
        return "," if (y + h > bottom + 0.08 * dh and h >= 1.3 * w) or h >= 2 * w else "."
    return None


def written_text(lattice: Lattice, reading: Reading) -> str:
    """The number as written: its digits, with the separators and dashes the decoder skipped
    in their places (a mark that is neither a digit nor a separator is left out; the reading
    counts it in ``skipped_marks``)."""
    if not reading.digits:
        band = (0.0, lattice.digit_height)
    else:
        band = (float(median([d.rect[1] for d in reading.digits])),
                float(median([d.rect[1] + d.rect[3] for d in reading.digits])))
    items: list[tuple[float, str]] = [(d.rect[0] + d.rect[2] / 2.0, str(d.value)) for d in reading.digits]
    for atom in _skipped(lattice, reading):
        sep = _separator(atom.rect, band, lattice.digit_height)
        if sep is not None:
            items.append((atom.rect[0] + atom.rect[2] / 2.0, sep))
    return "".join(s for _, s in sorted(items))


def _skipped(lattice: Lattice, reading: Reading) -> list[Atom]:
    """The whole marks of a field that the reading left out of its digits."""
    used = {i for a, b in reading.spans for i in range(a, b)}
    return [atom for i, atom in enumerate(lattice.atoms) if i not in used and atom.whole]


def small_loops(lattice: Lattice, reading: Reading, min_hole: int = 2) -> int:
    """Marks the decoder skipped as too small for a digit that enclose a hole: a separator is
    a solid dot or tick, while a small ring beside the digits is often a 0 written small
    (``4º`` for 40) and must not pass as ``4.``."""
    return sum(1 for atom in _skipped(lattice, reading) if has_hole(atom.mask, min_hole))


def _faint_beside(cleaned: CleanField, number: NumberMarks) -> int:
    """Digit-sized faint shapes on the number's line, beside what was read
    (:func:`formreader.imaging.faint.faint_marks`): a digit too light for the threshold leaves the
    number a digit short with every digit sure."""
    ys, xs = np.nonzero(number.mask)
    if ys.size == 0:
        return 0
    dh = number.digit_height
    y0, y1, x0, x1 = ys.min() - 0.5 * dh, ys.max() + 0.5 * dh, xs.min() - 1.5 * dh, xs.max() + 1.5 * dh
    boxes = faint_marks(cleaned.gray, number.mask, cleaned.mask | cleaned.others, dh)
    return sum(1 for x, y, w, h in boxes if x0 <= x + w / 2.0 <= x1 and y0 <= y + h / 2.0 <= y1)


def field_lattice(cleaned: CleanField, number: NumberMarks) -> Lattice | None:
    """The segmenter's candidates for the number's marks, shaded from the crop's grey."""
    if not number.mask.any():
        return None
    darkness = field_darkness(cleaned.gray, number.mask, cleaned.mask & ~number.mask | cleaned.others)
    lattice = segment_field(number.mask, number.digit_height, (), darkness)
    lattice.candidates = [c for c in lattice.candidates
                          if not joins_two_digits(lattice, c) and not ends_in_a_dot(lattice, c)]
    return lattice


# A dot or comma: a whole mark at most this share of the digit height wide (and at most
# SEPARATOR_HEIGHT high).
DOT_SIZE = 0.35


def ends_in_a_dot(lattice: Lattice, cand: Candidate) -> bool:
    """Whether a candidate takes in a dot or comma on the line beside its digit (``1.480``
    read with the dot in the 4): a separator is never part of a digit. Only a small mark in
    the lower half, clear of the columns of the rest, counts; a loose bar above stays the
    digit's."""
    if cand.end - cand.start < 2:
        return False
    atoms = lattice.atoms[cand.start : cand.end]
    dh = lattice.digit_height
    bottom = max(a.rect[1] + a.rect[3] for a in atoms)
    for end, rest in ((atoms[0], atoms[1:]), (atoms[-1], atoms[:-1])):
        x, y, w, h = end.rect
        if not end.whole or w > DOT_SIZE * dh or h > SEPARATOR_HEIGHT * dh or y + h / 2.0 < bottom - 0.5 * dh:
            continue
        rx0 = min(a.rect[0] for a in rest)
        rx1 = max(a.rect[0] + a.rect[2] for a in rest)
        if x + w <= rx0 or x >= rx1:
            return True
    return False


# Two marks at least this share of the digit height, side by side with at most this share of
# the narrower one's width in common, are two digits, never one.
TWO_DIGITS_HEIGHT = 0.6
TWO_DIGITS_OVERLAP = 0.25


def joins_two_digits(lattice: Lattice, cand: Candidate) -> bool:
    """Whether a candidate puts two separate digit-high marks side by side into one digit.

    The segmenter merges pieces of ink into one digit so that a digit broken by a light pen
    reads whole; but a 1 and a 0 written close together then also read as one sure 6 (``10``
    read ``6``, ``40`` read ``6``), and nothing flags it. The pieces of one digit overlap in
    columns (the two strokes of a 4) or are short (a 5's bar, a 7's); two digits do not."""
    if cand.end - cand.start < 2:
        return False
    spans: dict[int, list[int]] = {}
    for atom in lattice.atoms[cand.start : cand.end]:
        x, y, w, h = atom.rect
        box = spans.setdefault(atom.component, [x, y, x + w, y + h])
        box[:] = [min(box[0], x), min(box[1], y), max(box[2], x + w), max(box[3], y + h)]
    tall = sorted((b for b in spans.values() if b[3] - b[1] >= TWO_DIGITS_HEIGHT * lattice.digit_height),
                  key=lambda b: b[0])
    for a, b in zip(tall, tall[1:]):
        overlap = min(a[2], b[2]) - max(a[0], b[0])
        if overlap <= TWO_DIGITS_OVERLAP * min(a[2] - a[0], b[2] - b[0]):
            return True
    return False


def field_result(name: str, reading: Reading | None, lattice: Lattice | None, number: NumberMarks,
                 cleaned: CleanField, size: tuple[int, int], threshold: float) -> Field:
    """The Field of a read field image: source-pixel boxes, ``text`` as written, and the status.

    ``ok`` needs every digit at ``threshold`` or above, no digit-high mark left unread, and one
    number alone on its line; anything else is ``review`` with the reasons.
    """
    full = (0, 0, size[0], size[1])
    if reading is None or lattice is None or not reading.digits:
        text = number.dashes if reading is None or lattice is None else written_text(lattice, reading)
        why = "no handwriting found" if lattice is None else "no digits read"
        if text:
            why += f" (only {text!r})"
        return Field(name=name, value="", confidence=0.0, status="review", bbox=full, digits=[],
                     reason=why, text=text)
    digits = [Digit(str(d.value), d.confidence, cleaned.to_source(d.rect, size),
                    None if d.probs is None else tuple(d.probs.tolist()))
              for d in reading.digits]
    conf = min(d.confidence for d in digits)
    reasons = digit_reasons(digits, reading, threshold) + number.notes
    loops = small_loops(lattice, reading)
    if loops:
        reasons.append(f"{loops} small loop(s) beside the digits not read (a 0 written small?)")
    faint = _faint_beside(cleaned, number)
    if faint:
        reasons.append(f"{faint} faint mark(s) the size of a digit not read")
    xs = [d.bbox for d in digits]
    x0 = min(b[0] for b in xs)
    y0 = min(b[1] for b in xs)
    x1 = max(b[0] + b[2] for b in xs)
    y1 = max(b[1] + b[3] for b in xs)
    return Field(name=name, value="".join(d.value for d in digits), confidence=conf,
                 status="review" if reasons else "ok", bbox=(x0, y0, x1 - x0, y1 - y0), digits=digits,
                 reason="; ".join(reasons) if reasons else None, text=written_text(lattice, reading))


def _cleaned(gray: np.ndarray, digit_height: float = DIGIT_PX) -> tuple[CleanField, NumberMarks]:
    """The crop cleaned at the size where its digits are ``digit_height`` pixels high.

    Crops come in any size, and so do the digits in them: a register crop's row number is ~10%
    of its height, a cheque amount's digits fill it. Cleaned once at the working height, the
    digits are measured, and a crop whose digits came out smaller than the size the segmenter
    and the 28x28 normalisation work best at is cleaned again enlarged (at most MAX_ENLARGE
    times): a 12 px 6 filled its own loop and read as "not a digit".
    """
    cleaned = clean_field(gray)
    number = select_number(cleaned.mask)
    dh = number.digit_height
    if not 0 < dh < 0.8 * digit_height:
        return _upright(cleaned, number)
    # Only the number and a digit height around it is enlarged: the rest was looked at once.
    ys, xs = np.nonzero(number.mask)
    s = cleaned.scale
    pad = ROI_PAD * dh
    x0, x1 = int((xs.min() - pad) / s), int(np.ceil((xs.max() + 1 + pad) / s))
    y0, y1 = int((ys.min() - pad) / s), int(np.ceil((ys.max() + 1 + pad) / s))
    x0, y0 = max(0, x0), max(0, y0)
    roi = gray[y0:y1, x0:x1]
    enlarge = min(MAX_ENLARGE, digit_height / dh)
    height = max(1, int(round(roi.shape[0] * s * enlarge)))
    again = dataclasses.replace(clean_field(roi, height), origin=(x0, y0))
    found = select_number(again.mask)
    # A note of the first look stands unless the closer look counted the same kind again.
    kinds = {n.split(" ", 1)[1] for n in found.notes}
    found.notes = [n for n in number.notes if n.split(" ", 1)[1] not in kinds] + found.notes
    return _upright(again, found)


def _upright(cleaned: CleanField, number: NumberMarks) -> tuple[CleanField, NumberMarks]:
    """The crop and its number with the writing's slant taken out
    (:func:`formreader.imaging.crop_clean.estimate_slant`, :func:`~formreader.imaging.crop_clean.shear_rows`):
    MNIST's digits stand upright, and a digit leaning 20 degrees reads as another (a slanted 4
    as a 1, a 7 as a 1)."""
    if not number.mask.any():
        return cleaned, number
    k = estimate_slant(number.mask, DIGIT_HIGH * number.digit_height)
    if abs(k) < MIN_SHEAR:
        return cleaned, number
    h = number.mask.shape[0]
    ys = np.nonzero(number.mask.any(axis=1))[0]
    centre = float(ys.min() + ys.max()) / 2.0
    pad = int(np.ceil(abs(k) * h))
    def sh(a: np.ndarray, fill: int) -> np.ndarray:
        return shear_rows(a, k, centre, pad, fill)
    cleaned = dataclasses.replace(cleaned, gray=sh(cleaned.gray, 255), mask=sh(cleaned.mask, 0),
                                  others=sh(cleaned.others, 0), shear=k, shear_pad=pad, shear_centre=centre)
    number = dataclasses.replace(number, mask=sh(number.mask, 0))
    return cleaned, number


def read_field_image(gray: np.ndarray, recognizer: Recognizer, options: ScanOptions = ScanOptions(),
                     name: str = "field_01", lengths: Callable[[int], bool] | None = None,
                     accept: Callable[[str], bool] | None = None) -> Field:
    """Read a whole image as one field: one cropped number (see the module docstring).

    A pipeline's rules narrow the reading: ``lengths`` (the digit counts they accept) has the
    segmenter read again within them, ``accept`` (the strings they accept) has the string
    reader take the likeliest string that passes (:func:`formreader.rules.validate.string_rule`).
    """
    return read_field_images([gray], recognizer, options, name, lengths, accept)[0]


def read_field_images(grays: list[np.ndarray], recognizer: Recognizer, options: ScanOptions = ScanOptions(),
                      name: str = "field_01", lengths: Callable[[int], bool] | None = None,
                      accept: Callable[[str], bool] | None = None) -> list[Field]:
    """:func:`read_field_image` of many crops, their candidates classified together."""
    cleaned, numbers = zip(*[_cleaned(g) for g in grays]) if grays else ((), ())
    lattices = [field_lattice(c, n) for c, n in zip(cleaned, numbers)]
    readings = read_lattices(lattices, recognizer, lengths=None if lengths is None else [lengths] * len(grays),
                             look_again_below=FIELD_LOOK_AGAIN_BELOW)
    reader = string_reader_for(recognizer, options)
    out = []
    for g, c, n, lat, r in zip(grays, cleaned, numbers, lattices, readings):
        size = (g.shape[1], g.shape[0])
        f = field_result(name, r, lat, n, c, size, options.threshold)
        out.append(second_opinion(f, n.mask, n.digit_height, reader,
                                  lambda rect, c=c, size=size: c.to_source(rect, size), accept,
                                  pick_margin=recognizer.pick_margin))
    return out
