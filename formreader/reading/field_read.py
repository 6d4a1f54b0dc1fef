"""A field image -> one Field: the number it holds, what was written around its digits, and
whether a person should look.

The crop is cleaned (:mod:`formreader.imaging.crop_clean`), the marks of the number are picked out
(:func:`~formreader.reading.field_number.select_number`: the main line of writing, not print or a
second line above it), and
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

import cv2
import numpy as np

from formreader.imaging.clean import as_uint8, components
from formreader.imaging.crop_clean import WORK_HEIGHT, CleanField, clean_field, estimate_slant, shear_rows
from formreader.imaging.crop_rulings import stroke_width
from formreader.imaging.faint import faint_marks
from formreader.imaging.geometry import MaskRect
from formreader.imaging.normalize import field_darkness
from formreader.imaging.stats import median
from formreader.reading.decode import Reading
from formreader.reading.field_number import DIGIT_HIGH, NumberMarks, select_number
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
    return _text(reading, _separators(lattice, reading))


def _text(reading: Reading, separators: list[tuple[Rect, str]]) -> str:
    """:func:`written_text` of a reading and its :func:`_separators`."""
    items: list[tuple[float, str]] = [(d.rect[0] + d.rect[2] / 2.0, str(d.value)) for d in reading.digits]
    items += [(rect[0] + rect[2] / 2.0, sep) for rect, sep in separators]
    return "".join(s for _, s in sorted(items))


def _separators(lattice: Lattice, reading: Reading) -> list[tuple[Rect, str]]:
    """The marks the reading skipped that were written as separators, and what each was."""
    if not reading.digits:
        band = (0.0, lattice.digit_height)
    else:
        band = (float(median([d.rect[1] for d in reading.digits])),
                float(median([d.rect[1] + d.rect[3] for d in reading.digits])))
    out = []
    for atom in _skipped(lattice, reading):
        sep = _separator(atom.rect, band, lattice.digit_height)
        if sep is not None:
            out.append((atom.rect, sep))
    return out


def _skipped(lattice: Lattice, reading: Reading) -> list[Atom]:
    """The whole marks of a field that the reading left out of its digits."""
    used = {i for a, b in reading.spans for i in range(a, b)}
    return [atom for i, atom in enumerate(lattice.atoms) if i not in used and atom.whole]


def small_loops(lattice: Lattice, reading: Reading, min_hole: int = 2) -> int:
    """Marks the decoder skipped as too small for a digit that enclose a hole: a separator is
    a solid dot or tick, while a small ring beside the digits is often a 0 written small
    (``4º`` for 40) and must not pass as ``4.``."""
    return sum(1 for atom in _skipped(lattice, reading) if has_hole(atom.mask, min_hole))


# A full stop is a touch of the pen: at most this many pen widths high, and STOP_WIDE wide.
STOP_HIGH = 2.5
STOP_WIDE = 2.0


def big_stops(separators: list[tuple[Rect, str]], mask: np.ndarray) -> int:
    """Of a reading's :func:`_separators`, the full stops and commas bigger than a touch of the
    pen (``mask``: the number's ink, for the pen's width). Why: the last digit of a number
    written small (the 6 of a 46 at a third of the 4's height) passes for a full stop by its
    place and reads as ``4.``, every digit sure; on the development books 3 such fields were
    ok and wrong, and 2 right ones had a full stop this big."""
    stops = [rect for rect, sep in separators if sep in ".,"]
    if not stops:
        return 0
    pen = stroke_width(mask)
    return sum(1 for _, _, w, h in stops if h > STOP_HIGH * pen and w > STOP_WIDE * pen)


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
    separators = _separators(lattice, reading)
    blots = big_stops(separators, number.mask)
    if blots:
        reasons.append(f"{blots} mark(s) beside the digits too big for a full stop (a digit written small?)")
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
                 reason="; ".join(reasons) if reasons else None, text=_text(reading, separators))


def _cleaned(gray: np.ndarray, digit_height: float = DIGIT_PX) -> tuple[CleanField, NumberMarks]:
    """The crop cleaned at the size where its digits are ``digit_height`` pixels high.

    Crops come in any size, and so do the digits in them: a register crop's row number is ~10%
    of its height, a cheque amount's digits fill it. Cleaned once at the working height, the
    digits are measured, and a crop whose digits came out smaller than the size the segmenter
    and the 28x28 normalisation work best at is cleaned again enlarged (at most MAX_ENLARGE
    times): a 12 px 6 filled its own loop and read as "not a digit".
    """
    cleaned = clean_field(gray)
    number = select_number(cleaned.mask, removed=cleaned.others)
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
    again = dataclasses.replace(clean_field(roi, height, cleaned.contrast, cleaned.inverted), origin=(x0, y0))
    found = select_number(again.mask, removed=again.others)
    # A note of the first look stands unless the closer look counted the same kind again.
    kinds = {n.split(" ", 1)[1] for n in found.notes}
    found.notes = [n for n in number.notes if n.split(" ", 1)[1] not in kinds] + found.notes
    lost = _lost_marks(cleaned, number, again, found)
    if lost:
        found.notes.append(f"{lost} mark(s) of the number gone when looked at closer")
    return _upright(again, found)


def _lost_marks(first: CleanField, number: NumberMarks, again: CleanField, found: NumberMarks,
                least: float = 0.3, hit: float = 0.3, hairline: float = 1.25) -> int:
    """Marks of the number at the first look that the closer look lost: at least ``least`` of
    the digit height high, wider than ``hairline`` pen widths, and less than ``hit`` of their
    ink on (or within two pixels of) the number the closer look found.

    Why: the closer look cleans the number's surroundings again at a larger size, with its own
    noise level and its own choice of marks; a faint or broken digit (a 5 in two strokes, a 6
    written small) can fall out of it, and the field then reads one digit short with every
    digit sure ("45" as 4). A hairline no wider than the pen is what the closer look should
    drop: the piece of a ruling the first look left beside the number.
    """
    n, labels, stats = components(number.mask)
    if n <= 1:
        return 0
    near = cv2.dilate(as_uint8(found.mask), np.ones((5, 5), np.uint8)) > 0
    pen: float | None = None
    lost = 0
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if h < least * number.digit_height:
            continue
        ys, xs = np.nonzero(labels[y : y + h, x : x + w] == i)
        # The mark's pixels at the closer look's scale and origin (both looks are upright).
        sx = (((xs + x + 0.5) / first.scale - again.origin[0]) * again.scale).astype(int)
        sy = (((ys + y + 0.5) / first.scale - again.origin[1]) * again.scale).astype(int)
        inside = (sx >= 0) & (sx < near.shape[1]) & (sy >= 0) & (sy < near.shape[0])
        if near[sy[inside], sx[inside]].sum() >= hit * len(xs):
            continue
        pen = stroke_width(number.mask) if pen is None else pen
        lost += w > hairline * pen
    return lost


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
    number = dataclasses.replace(number, mask=sh(number.mask, 0),
                                 lined=None if number.lined is None else sh(number.lined, 0))
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
        out.append(second_opinion(f, n.string_ink, n.digit_height, reader,
                                  lambda rect, c=c, size=size: c.to_source(rect, size), accept,
                                  pick_margin=recognizer.pick_margin))
    return out
