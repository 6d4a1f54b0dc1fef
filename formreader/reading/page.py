"""One page's pixels -> its fields of recognised digits (the scanner's composition of stages).

Contract (used by formreader.api): ``read_page(gray, recognizer, options) -> list[Field]`` with
every bbox in pixels of ``gray`` as given (i.e. the source page, before any deskew).

Stages: :mod:`formreader.imaging.clean` (working resolution, binarize, deskew, specks),
:mod:`formreader.imaging.fields` (boxes, comb fields or free numbers, rulings removed),
:mod:`formreader.reading.segment` (candidate digits per field, shaded from the page's grey levels by
:mod:`formreader.imaging.normalize`). The candidates of all the page's
fields go to the model together (:func:`formreader.reading.schedule.read_lattices`), then each field's
reading is decoded.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from formreader.imaging.clean import CleanPage, clean_page, remove_specks, speck_area
from formreader.imaging.faint import faint_marks
from formreader.imaging.fields import find_regions, text_lines
from formreader.imaging.geometry import MaskRect, SourceRect, WorkRect, mask_to_work, work_to_source
from formreader.imaging.normalize import field_darkness
from formreader.imaging.regions import FieldRegion, Rect
from formreader.reading.decode import Reading
from formreader.reading.judge import second_opinion, string_reader_for
from formreader.reading.schedule import read_lattices
from formreader.reading.segment import Lattice, segment_field
from formreader.recognizer.model import Recognizer
from formreader.results import Digit, Field, ScanOptions

# A field whose digit-sized marks are mostly not digits (rejected by the model, or read with
# less than LOW_CONF) is handwriting of another kind, e.g. a box of letters.
LOW_CONF = 0.7
MAX_NON_DIGIT_SHARE = 0.3
MIN_NON_DIGITS = 3  # fewer doubtful marks than this make a field to review, not a non-field
# Read from its whole blobs only, a field with at least this many doubtful marks, the majority
# of its marks, is words (the alphabet boxes of an HSF form): not worth searching cuts and merges.
WORDS_DOUBTFUL = 6


def is_number(reading: Reading) -> bool:
    """Whether a field's reading looks like a handwritten number rather than words or noise.

    A short number with one or two doubtful digits stays a field (for review): only several
    non-digit marks that are also a large share of the field make it words.
    """
    if not reading.digits:
        return False
    doubtful, total = _doubtful(reading)
    return doubtful < MIN_NON_DIGITS or doubtful <= MAX_NON_DIGIT_SHARE * total


def is_words(reading: Reading) -> bool:
    """Whether a field is plainly words or scribble, not a number even with its marks recut."""
    doubtful, total = _doubtful(reading)
    return doubtful >= WORDS_DOUBTFUL and 2 * doubtful > total


def _doubtful(reading: Reading) -> tuple[int, int]:
    """(marks that are not confidently digits, all digit-sized marks) of a reading."""
    doubtful = sum(1 for d in reading.digits if d.confidence < LOW_CONF) + reading.skipped_marks
    return doubtful, len(reading.digits) + reading.skipped_marks


def _to_source(rect: MaskRect, origin: tuple[int, int], page: CleanPage, size: tuple[int, int]) -> SourceRect:
    return work_to_source(mask_to_work(rect, origin), page.from_work, size)


def _field_pixels(region: FieldRegion, page: CleanPage) -> tuple[np.ndarray, np.ndarray] | None:
    """A field's grey pixels, and the page's ink there that is not its writing (rulings and print
    removed from it); None for a region reaching past the page."""
    x0, y0 = region.origin
    h, w = region.mask.shape
    gray = page.gray[y0 : y0 + h, x0 : x0 + w]
    if gray.shape != region.mask.shape:
        return None
    return gray, page.mask[y0 : y0 + h, x0 : x0 + w] & ~region.mask


def field_lattice(region: FieldRegion, page: CleanPage) -> Lattice:
    """A field's candidate digits (:func:`formreader.reading.segment.segment_field`), shaded from the
    page's grey levels where the field has contrast (:func:`formreader.imaging.normalize.field_darkness`)."""
    pixels = _field_pixels(region, page)
    darkness = None if pixels is None else field_darkness(pixels[0], region.mask, pixels[1])
    return segment_field(region.mask, region.digit_height, region.cells, darkness, region.components)


def _faint_boxes(region: FieldRegion, reading: Reading, page: CleanPage) -> list[Rect]:
    """The digit-sized faint shapes the field holds beside what was read (see
    :mod:`formreader.imaging.faint`): rulings and print removed from the field, and the digits read,
    are accounted for. Boxes in field-mask pixels."""
    pixels = _field_pixels(region, page)
    if pixels is None:  # a region reaching past the page: nothing to compare
        return []
    gray, known = pixels
    for d in reading.digits:
        x, y, dw, dh = d.rect
        known[y : y + dh, x : x + dw] = True
    heights = [d.rect[3] for d in reading.digits]
    height = float(statistics.median(heights)) if heights else region.digit_height
    return faint_marks(gray, region.mask, known, height)


def _with_faint_ink(region: FieldRegion, boxes: list[Rect], page: CleanPage) -> FieldRegion | None:
    """The region with the ink of its faint shapes added: each shape binarized on its own
    (Otsu within its box), as the page's one threshold would have done had it been as dark as
    the rest. Rulings and print stay out."""
    pixels = _field_pixels(region, page)
    if pixels is None:
        return None
    gray, others = pixels
    mask = region.mask.copy()
    for x, y, w, h in boxes:
        g = np.ascontiguousarray(gray[y : y + h, x : x + w])
        t, _ = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        mask[y : y + h, x : x + w] |= (g <= t) & ~others[y : y + h, x : x + w]
    mask = remove_specks(mask, speck_area(page.mask.shape))
    return dataclasses.replace(region, mask=mask)


def _in_writing_area(box: Rect, region: FieldRegion) -> bool:
    """Whether a faint shape is the field's to read: clear of the crop's edges (where the next
    box's ruling or the page's print begins) and centred in the box's writing area, if it has
    one. A light ruling at the edge is flagged, never read as a 1."""
    x, y, w, h = box
    H, W = region.mask.shape
    if x <= 0 or y <= 0 or x + w >= W or y + h >= H:
        return False
    if region.inner is None:
        return True
    ix, iy, iw, ih = region.inner
    cx, cy = x + w / 2.0, y + h / 2.0
    return ix <= cx < ix + iw and iy <= cy < iy + ih


def reread_faint(regions: Sequence[FieldRegion | None], readings: list[Reading | None], page: CleanPage,
                 recognizer: Recognizer, lengths: Sequence[Any] | None = None,
                 wanted: Callable[[Reading], bool] | None = None
                 ) -> tuple[list[FieldRegion | None], list[Reading | None]]:
    """Fields read again with their faint writing binarized on its own (see
    :mod:`formreader.imaging.faint`): a digit written with a lighter pen than its neighbours falls
    above the page's threshold and is read as specks, or not at all. The new reading replaces
    the old one when it reads more digits; it says how many faint marks it added. Only shapes
    inside the writing area are read (:func:`_in_writing_area`); all of them are flagged.
    ``wanted``: the readings worth checking (e.g. numbers, not a box of words); default all."""
    regions, readings = list(regions), list(readings)
    todo = []
    for i, (region, reading) in enumerate(zip(regions, readings)):
        if region is None or reading is None or (wanted is not None and not wanted(reading)):
            continue
        boxes = _faint_boxes(region, reading, page)
        reading.faint_left = len(boxes)
        inside = [b for b in boxes if _in_writing_area(b, region)]
        redone = _with_faint_ink(region, inside, page) if inside else None
        if redone is not None:
            todo.append((i, redone, len(inside)))
    if not todo:
        return regions, readings
    found = read_lattices([field_lattice(r, page) for _, r, _ in todo], recognizer,
                          lengths=None if lengths is None else [lengths[i] for i, _, _ in todo])
    for (i, region, count), reading in zip(todo, found):
        old = readings[i]
        if reading is not None and old is not None and len(reading.digits) > len(old.digits):
            reading.faint_read = count
            regions[i], readings[i] = region, reading
    return regions, readings


def digit_reasons(digits: Sequence[Digit], reading: Reading, threshold: float) -> list[str]:
    """Why a field's digits need a person: those below ``threshold``, and the digit-sized
    marks the decoder could not read as digits (letters, scribbles), and a reading fitted to
    the length rules after the likeliest one broke them."""
    reasons = []
    low = [f"digit {i + 1} ({d.value}) at {d.confidence:.2f}" for i, d in enumerate(digits)
           if d.confidence < threshold]
    if low:
        reasons.append(f"below threshold {threshold:.2f}: " + ", ".join(low))
    if reading.skipped_marks:
        reasons.append(f"{reading.skipped_marks} mark(s) not read as digits")
    if reading.fitted_from is not None:
        reasons.append(f"read as {reading.fitted_from or '(nothing)'} ({len(reading.fitted_from)} digits); "
                       f"the likeliest reading with a length the rules accept")
    return reasons


def with_string_reading(field: Field, region: FieldRegion, reading: Reading, page: CleanPage,
                        size: tuple[int, int], recognizer: Recognizer, options: ScanOptions,
                        accept: Callable[[str], bool] | None = None) -> Field:
    """A page field in review with the string reader's reading of it (narrowed by ``accept``)
    for the reviewer, beside the segmenter's; its value and status stay the segmenter's.

    On pages the string reader has no vote: it did not catch the wrong readings the segmenter
    was sure of, and it sent right ones to review (docs/model.md, "The string reader"). Its
    strip is scaled by the height of the digits read: a box's size only says how high they
    could be.
    """
    if field.status != "review":
        return field
    heights = [d.rect[3] for d in reading.digits]
    height = float(statistics.median(heights)) if heights else region.digit_height
    return second_opinion(field, region.mask, height, string_reader_for(recognizer, options),
                          lambda rect: _to_source(rect, region.origin, page, size), accept, pick_margin=None)


def field_from_reading(name: str, region: FieldRegion, reading: Reading, page: CleanPage,
                       size: tuple[int, int], threshold: float, faint_check: bool = True) -> Field:
    """A result Field from a decoded region: bboxes mapped back to source pixels (``size`` =
    source width, height), confidence = the weakest digit, review when a digit is below
    ``threshold`` or a digit-sized mark could not be read (the reason says which)."""
    digits = [Digit(str(d.value), d.confidence, _to_source(d.rect, region.origin, page, size),
                    None if d.probs is None else tuple(d.probs.tolist()))
              for d in reading.digits]
    conf = min((d.confidence for d in digits), default=0.0)
    reasons = digit_reasons(digits, reading, threshold)
    if reading.faint_read:
        reasons.append(f"{reading.faint_read} faint mark(s) read on their own threshold")
    faint = 0
    if faint_check:
        faint = reading.faint_left if reading.faint_left is not None else len(_faint_boxes(region, reading, page))
    if faint:
        reasons.append(f"{faint} faint mark(s) the size of a digit not read")
    bbox = work_to_source(WorkRect(region.bbox), page.from_work, size)
    return Field(name=name, value="".join(d.value for d in digits), confidence=conf,
                 status="review" if reasons else "ok", bbox=bbox, digits=digits,
                 reason="; ".join(reasons) if reasons else None)


def read_page(gray: np.ndarray, recognizer: Recognizer, options: ScanOptions = ScanOptions()) -> list[Field]:
    """Find, segment, normalise and classify every handwritten number on a grayscale page."""
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale page, got shape {gray.shape}")
    if gray.dtype != np.uint8:
        raise ValueError(f"expected a uint8 page, got {gray.dtype}")
    size = (gray.shape[1], gray.shape[0])
    page = clean_page(gray, options.binarize, options.deskew)
    # Several lines of writing in one region are a paragraph or an address, not a number.
    mode = options.field_mode if options.field_mode in ("boxes", "free") else "auto"
    regions = [r for r in find_regions(page.mask, mode) if text_lines(r.mask, r.components[2]) == 1]
    lattices: list[Lattice | None] = [field_lattice(r, page) for r in regions]
    readings = read_lattices(lattices, recognizer, give_up=is_words)
    if options.faint_check:
        regions, readings = reread_faint(regions, readings, page, recognizer,  # type: ignore[assignment]
                                         wanted=is_number)
    fields: list[Field] = []
    for region, reading in zip(regions, readings):
        if reading is not None and is_number(reading):
            field = field_from_reading(f"field_{len(fields) + 1:02d}", region, reading, page,
                                       size, options.threshold, options.faint_check)
            fields.append(with_string_reading(field, region, reading, page, size, recognizer, options))
    return fields
