"""Which layout a page has: a whole form (many fields) or a field image (one cropped number).

``--mode auto`` decides per image, so a folder that mixes scanned forms and the crops a
capture tool cut from them reads without sorting. It decides from the image's shape alone, at
no cost: a form, even a cheque at 100 dpi, is at least ~800 px on its long side and at most
~2.5 times as wide as high; a crop of one number is either small (a box, a register's row
number: 50-600 px) or a strip (an amount, a comb: at least 3 times as wide as high).
Crops larger than that, or pages smaller, need ``--mode field`` or ``--mode page``.
"""

from __future__ import annotations

from typing import Literal

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


def choose_layout(shape: tuple[int, ...], mode: str) -> Layout:
    """``field`` or ``page`` for an image of ``shape`` read in ``mode``: ``field``, ``page``,
    ``boxes``, ``free`` as told; ``auto`` by :func:`looks_like_field`."""
    if mode == "field":
        return "field"
    if mode == "auto" and looks_like_field(shape):
        return "field"
    return "page"
