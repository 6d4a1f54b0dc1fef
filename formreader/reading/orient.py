"""Pages scanned upside down or sideways: found, turned upright, read, and said so.

A page fed the wrong way round is read into numbers all the same (an upside-down 6 is a fine
9), some of them sure enough to be ``ok``. Two checks find it without reading every page four
times:

- the digits the page's reading found are classified again turned 180, 90 and 270 degrees
  (:func:`turned_votes`): upright, they are surest as they are; upside down, turned 180;
- a page where that vote prefers a turn is read again turned that way; a page whose digits
  are not sure on average (below ``sure``: upright pages of this project's samples read at
  0.96-1.00, the same pages turned at 0.43-0.95) or too few to vote (a form read sideways finds
  no boxes) is read again turned every way; the reading with the most :func:`evidence` of
  digits read the right way up wins (:func:`read_upright`).

When the winner leads by less than ``margin`` of its evidence, the page's orientation is in doubt and every
field goes to review saying so: never a confident read of a page that may be the wrong way up.
Field images are not turned: a lone ``6`` and an upside-down ``9`` look the same.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from formreader.imaging.normalize import ink_from_gray, to_mnist
from formreader.recognizer.model import Recognizer
from formreader.results import Field

TURNS = (90, 180, 270)  # degrees clockwise
Reading = tuple[str, list[Field]]  # (layout, fields)


def turn(gray: np.ndarray, degrees: int) -> np.ndarray:
    """``gray`` turned ``degrees`` (a multiple of 90) clockwise."""
    return np.ascontiguousarray(np.rot90(gray, -(degrees // 90)))


def digit_confidence(fields: list[Field]) -> tuple[float, int]:
    """The mean confidence of a reading's digits, and how many there are."""
    conf = [d.confidence for f in fields for d in f.digits]
    return (float(np.mean(conf)) if conf else 0.0), len(conf)


def turned_votes(gray: np.ndarray, fields: list[Field], recognizer: Recognizer, max_digits: int = 24
                 ) -> dict[int, float]:
    """For each turn (0 included), the mean top digit probability of the reading's digit crops
    turned that way: the turn at which the page's own digits look most like digits. At most
    ``max_digits`` crops, spread over the page, each normalised once and then turned."""
    boxes = [d.bbox for f in fields for d in f.digits]
    if len(boxes) > max_digits:
        boxes = [boxes[i] for i in np.linspace(0, len(boxes) - 1, max_digits).round().astype(int)]
    crops = []
    for x, y, w, h in boxes:
        piece = gray[max(0, y) : y + h, max(0, x) : x + w]
        if piece.size:
            crops.append(to_mnist(ink_from_gray(piece)))
    if not crops:
        return {}
    upright = np.stack(crops)
    return {degrees: float(recognizer.probabilities(np.ascontiguousarray(np.rot90(upright, -(degrees // 90),
                                                                                  axes=(1, 2))))[:, :10]
                           .max(axis=1).mean())
            for degrees in (0, *TURNS)}


def evidence(fields: list[Field]) -> float:
    """How much a reading looks like digits read the right way up: each digit counts by how much
    surer than a coin toss it is (``confidence - 0.5``). A page read sideways finds more marks
    but few sure ones; read upside down, as many marks, less sure."""
    return float(sum(d.confidence - 0.5 for f in fields for d in f.digits))


def read_upright(gray: np.ndarray, read: Callable[[np.ndarray], Reading], recognizer: Recognizer,
                 margin: float = 0.1, min_digits: int = 4, sure: float = 0.95) -> tuple[int, np.ndarray, Reading]:
    """(turn in degrees clockwise, the page turned, its reading): see the module docstring.
    ``margin``: the share of the winner's :func:`evidence` by which it must beat the runner-up,
    else the orientation is in doubt."""
    layout, fields = read(gray)
    if layout == "field":
        return 0, gray, (layout, fields)
    conf, count = digit_confidence(fields)
    if count < min_digits or conf < sure:
        candidates = list(TURNS)  # every turn is read anyway: no vote needed
    else:
        votes = turned_votes(gray, fields, recognizer)
        candidates = [k for k in TURNS if votes[k] > votes[0]] if votes else list(TURNS)
    if not candidates:
        return 0, gray, (layout, fields)
    readings = {0: (gray, (layout, fields))}
    for degrees in candidates:
        turned = turn(gray, degrees)
        readings[degrees] = (turned, read(turned))
    score = {k: evidence(r[1][1]) for k, r in readings.items()}
    ranked = sorted(score, key=lambda k: (score[k], k == 0), reverse=True)
    best, second = ranked[0], ranked[1]
    page, reading = readings[best]
    if score[best] > 0 and score[best] - score[second] < margin * score[best]:
        why = (f"page orientation uncertain: its digits read almost as surely turned {second} degrees "
               f"clockwise as turned {best}")
        reading = (reading[0], [dataclasses.replace(f, status="review", reason="; ".join(
            r for r in (f.reason, why) if r)) for f in reading[1]])
    return best, page, reading
