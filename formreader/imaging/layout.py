"""Which layout a page has: a whole form (many fields) or a field image (one cropped number).

``--mode auto`` decides per image, so a folder that mixes scanned forms and the crops a
capture tool cut from them reads without sorting. It decides from the image's shape first, at
no cost: a form, even a cheque at 100 dpi, is at least ~800 px on its long side and at most
~2.5 times as wide as high; a crop of one number is either small (a box, a register's row
number: 50-600 px) or a strip (an amount, a comb: at least 3 times as wide as high). A large
strip is then looked at once more: ruled boxes on two or more lines make it a band cut from a
form (a row of a form's boxes is one field's comb or boxes at most; a field is never written
on two lines). Crops larger than that, or pages smaller, need ``--mode field`` or ``--mode page``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Layout = Literal["field", "page"]

# An image whose long side is at most this many pixels is a field image (the smallest form
# page the scanner reads, a cheque at 100 dpi, is ~850 px long).
MAX_FIELD_SIDE = 640
# An image at least this many times as wide as it is high is a strip: one field (a cheque's
# amount, a comb of digits). Cheques and forms are 0.7-2.5.
MIN_STRIP_ASPECT = 3.0


def looks_like_field(shape: tuple[int, ...], max_side: int = MAX_FIELD_SIDE,
                     min_aspect: float = MIN_STRIP_ASPECT) -> bool:
    """Whether an image of ``shape`` (rows, columns) is one cropped field rather than a page."""
    h, w = shape[:2]
    if h == 0 or w == 0:
        return True
    return max(h, w) <= max_side or w >= min_aspect * h


def box_lines(gray: np.ndarray) -> int:
    """How many lines of ruled boxes (:func:`formreader.imaging.boxes.find_boxes`) the image
    holds: boxes overlapping in rows are one line."""
    from formreader.imaging.boxes import find_boxes
    from formreader.imaging.clean import binarize

    mask, _ = binarize(gray)
    spans = sorted((b.outer[1], b.outer[1] + b.outer[3]) for b in find_boxes(mask))
    lines = 0
    bottom = -1
    for top, end in spans:
        if top >= bottom:  # below every box so far: a new line
            lines += 1
        bottom = max(bottom, end)
    return lines


def choose_layout(gray: np.ndarray, mode: str, max_side: int = MAX_FIELD_SIDE) -> Layout:
    """``field`` or ``page`` for the image ``gray`` read in ``mode``: ``field``, ``page``,
    ``boxes``, ``free`` as told; ``auto`` by :func:`looks_like_field`, and a strip larger than
    ``max_side`` holding boxes on two or more lines (:func:`box_lines`) is a page."""
    if mode == "field":
        return "field"
    if mode == "auto" and looks_like_field(gray.shape, max_side):
        if max(gray.shape[:2]) <= max_side or box_lines(gray) < 2:
            return "field"
    return "page"
