"""Two readers of one field judged together: the segmenter's digits and the string reader's.

The segmenter (cut the ink into digits, read each with the digit CNN) and the string reader
(:mod:`formreader.recognizer.strings`: the whole number at once, no cut) fail in different places: the
segmenter where digits join or a digit breaks in two, the string reader where a digit is
unlike anything it was trained on. A field is ``ok`` only when both read the same digits; when
they differ the field is ``review`` (reason ``readers disagree``), and its value is the reading
whose weakest digit is surer (the string reader's by :data:`PICK_MARGIN`, or by the margin a
fine-tuned bundle chose on its held-out fields, :func:`choose_pick_margin`), each digit with
its own confidence.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from formreader.imaging.geometry import MaskRect
from formreader.recognizer.model import Recognizer
from formreader.recognizer.shipped import string_model_path
from formreader.recognizer.strings import PICK_MARGIN, StringReader, StringReading, Strip, load_string_reader, strip_of
from formreader.results import BBox, Digit, Field, ScanOptions

Rect = MaskRect  # boxes on the number's mask

# Margins a fine-tuned bundle may choose from on its held-out fields (None: never the string
# reader's digits; -1: always, when it reads any).
PICK_MARGINS: tuple[float | None, ...] = (-1.0, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4, None)


def judge(field: Field, reading: StringReading | None, strip: Strip | None,
          to_source: Callable[[Rect], BBox], pick_margin: float | None = PICK_MARGIN) -> Field:
    """``field`` (the segmenter's) with the string reader's opinion added (see the module
    docstring). ``to_source`` maps a box on the number's mask to source pixels."""
    if reading is None or strip is None:
        return field
    second = (reading.text, reading.confidences)
    if reading.digits == field.value:
        return dataclasses.replace(field, second=second)
    why = (f"readers disagree: segmenter {field.value or '(nothing)'!r}, "
           f"string reader {reading.digits or '(nothing)'!r}")
    reasons = [why] + ([field.reason] if field.reason else [])
    string_conf = min(reading.digit_confidences, default=0.0)
    if pick_value(field.value, field.confidence, reading.digits, string_conf, pick_margin) != field.value:
        digits = [Digit(c, p, to_source(strip.char_rect(col)))
                  for c, p, col in zip(reading.text, reading.confidences, reading.columns) if c.isdigit()]
        x0 = min(d.bbox[0] for d in digits)
        y0 = min(d.bbox[1] for d in digits)
        x1 = max(d.bbox[0] + d.bbox[2] for d in digits)
        y1 = max(d.bbox[1] + d.bbox[3] for d in digits)
        return dataclasses.replace(field, value=reading.digits, confidence=string_conf, digits=digits,
                                   bbox=(x0, y0, x1 - x0, y1 - y0), text=reading.text, status="review",
                                   reason="; ".join(reasons), second=second)
    return dataclasses.replace(field, status="review", reason="; ".join(reasons), second=second)


def pick_value(seg: str, seg_conf: float, string: str, string_conf: float, margin: float | None) -> str:
    """The value :func:`judge` reports when the two readers read ``seg`` and ``string``."""
    if string == seg or margin is None or not string:
        return seg
    return string if string_conf > seg_conf + margin else seg


def choose_pick_margin(cases: list[tuple[str, float, str, float, str]], least_gain: float = 0.005) -> float | None:
    """The pick margin that reads most of ``cases`` right: (segmenter's digits, its weakest
    digit's confidence, string reader's digits, its weakest digit's confidence, the truth).

    Why: the shipped margin suits readers trained on no real writing, where the segmenter is
    the better one. After fine-tuning on a collection the string reader, which learns whole
    joined numbers, may be the better one on it; the fields held out from the fine-tuning say
    which. The shipped margin stays unless another reads at least ``least_gain`` of the cases
    (and two of them) more right; of margins reading alike, the one nearest it."""
    def right(margin: float | None) -> int:
        return sum(pick_value(s, sc, t, tc, margin) == truth for s, sc, t, tc, truth in cases)

    def distance(margin: float | None) -> float:
        return 10.0 if margin is None else abs(margin - PICK_MARGIN)

    base = right(PICK_MARGIN)
    best = max(PICK_MARGINS, key=lambda m: (right(m), -distance(m)))
    if right(best) - base >= max(2, least_gain * len(cases)):
        return best
    return PICK_MARGIN


def string_reader_for(recognizer: Recognizer, options: ScanOptions) -> StringReader | None:
    """The string reader that goes with ``recognizer`` (a bundle's own, or the shipped one), or
    None when the options or ``FORMREADER_STRING_MODEL=none`` turn it off."""
    if not options.string_reader:
        return None
    model = string_model_path(getattr(recognizer, "strings_path", None))
    return load_string_reader(str(model)) if model is not None else None


def second_opinion(field: Field, mask: np.ndarray, digit_height: float, reader: StringReader | None,
                   to_source: Callable[[Rect], BBox], accept: Callable[[str], bool] | None = None,
                   pick_margin: float | None = PICK_MARGIN) -> Field:
    """``field`` judged with the string reader's reading of the same ink (``mask``: the field's
    number, ``digit_height`` its digits' height in mask pixels), narrowed by ``accept``.
    ``pick_margin=None``: the string reader only sends a field to review, never changes its value."""
    if reader is None:
        return field
    strip = strip_of(mask, digit_height)
    if strip is None:
        return field
    return judge(field, reader.read(strip, accept), strip, to_source, pick_margin)
