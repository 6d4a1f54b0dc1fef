"""One handwritten digit in a whole image (a phone photo, a scan, a drawing): the digit, or why
there is none.

The picture is cleaned and normalised by :func:`formreader.imaging.photo.prepare_digit`. A model
asked about a letter still answers with one of its classes, so the reading has to hold across
several views of the mark to be believed (:func:`read_digit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from formreader.imaging.normalize import tilted
from formreader.imaging.photo import PreparedDigit, prepare_digit
from formreader.recognizer.model import CLASS_NAMES, REJECT, Recognizer

# A screen confidence no reading reaches: every view goes to the full network (the screen is
# for pages of plain digits; here the views must disagree where the full network does).
FULL_NETWORK = 2.0
STATUS_DIGIT, STATUS_NO_INK, STATUS_NOT_DIGIT = "digit", "no ink", "not a digit"


@dataclass(frozen=True)
class DigitReading:
    """What one image holds.

    ``digit``: "0".."9", or None when the image holds no digit. ``status``: "digit", "no ink"
    or "not a digit"; ``reason``: why there is no digit, in words (None for a digit).
    ``top3``: the three likeliest classes, ``(label, p)`` with labels as in
    :data:`~formreader.recognizer.model.CLASS_NAMES`, each class scored by the view of the
    mark that supports it least (:func:`read_digit`); empty with no ink. ``confidence``: the
    first of them (0.0 with no ink). A digit is given only when its class leads; "not a digit"
    comes with the reject class's score when that leads, else with the low score of the digit
    that came closest.
    """

    digit: str | None
    confidence: float
    top3: tuple[tuple[str, float], ...]
    status: str
    reason: str | None = None


def view_probabilities(recognizer: Recognizer, prepared: PreparedDigit,
                       tilts: tuple[float, ...] = (-15.0, 15.0)) -> np.ndarray:
    """(V, 11) class probabilities of the views of one mark: the full network on the mark as
    written, tilted by each of ``tilts`` and stood upright; the second network (if the model
    has one) on the mark as written and upright."""
    crop = prepared.crop[None]
    views = np.concatenate([crop] + [tilted(crop, t) for t in tilts] + [prepared.upright[None]])
    readings = [recognizer.probabilities(views, screen_confidence=FULL_NETWORK)]
    if recognizer.second is not None:
        readings.append(recognizer.second.probabilities(np.stack([prepared.crop, prepared.upright])))
    return np.concatenate(readings).astype(np.float32)


def read_digit(gray: np.ndarray, recognizer: Recognizer, *, confident: float = 0.9, seen: float = 0.5,
               min_height: float = 0.1, min_contrast: float = 0.2, tilts: tuple[float, ...] = (-15.0, 15.0),
               **prepare: Any) -> DigitReading:
    """The digit in ``gray`` (2-D, any size and polarity), or why there is none.

    The mark is read in several views (:func:`view_probabilities`) and each class keeps the
    probability of the view that gives it least. Why: a model trained on digits, its reject
    class included, is sure of some shapes it never saw (an ``A`` as a ``4`` at 0.999), but a
    reading that is right holds when the digit is tilted, stood upright or read by another
    network, and one that only happened to fit does not.

    Status "no ink": no marks, marks under ``min_height`` of the picture's height (specks, a
    ruling's stub), or marks less than ``min_contrast`` darker than their paper (a pen or a
    pencil stroke is darker than that in a photo; the pieces of a pale ruling, a crease or JPEG
    blotches on blank paper are not). "not a digit": the reject class leads, or no digit holds at
    ``confident`` in every view while some view reads the reject class at ``seen`` or more.
    Otherwise the digit, with the weakest view's probability as its confidence.
    ``prepare``: keyword arguments for :func:`prepare_digit`.
    """
    prepared = prepare_digit(gray, **prepare)
    if not prepared.mask.any():
        return DigitReading(None, 0.0, (), STATUS_NO_INK, "nothing written in the image")
    if prepared.height_share < min_height:
        return DigitReading(None, 0.0, (), STATUS_NO_INK,
                            f"only marks under {min_height:.0%} of the image height")
    if prepared.contrast < min_contrast:
        return DigitReading(None, 0.0, (), STATUS_NO_INK,
                            f"only marks less than {min_contrast:.0%} darker than the paper")
    views = view_probabilities(recognizer, prepared, tilts)
    support = views.min(axis=0)
    order = np.argsort(-support, kind="stable")[:3]
    top3 = tuple((CLASS_NAMES[int(i)], float(support[i])) for i in order)
    best = int(order[0])
    if best == REJECT:
        return DigitReading(None, float(support[best]), top3, STATUS_NOT_DIGIT,
                            "the model reads a mark that is not a digit")
    if support[best] < confident and float(views[:, REJECT].max()) >= seen:
        return DigitReading(None, float(support[best]), top3, STATUS_NOT_DIGIT,
                            f"no digit holds in every view (best {CLASS_NAMES[best]} at "
                            f"{support[best]:.2f}) and a view reads it as no digit")
    return DigitReading(CLASS_NAMES[best], float(support[best]), top3, STATUS_DIGIT)
