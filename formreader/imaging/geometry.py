"""Rectangles, the frame each lives in, and the explicit conversions between frames.

A rectangle is ``(x, y, w, h)`` in pixels of one frame, and its type names the frame:

- :data:`SourceRect`: pixels of the image as loaded; what the outputs report (``BBox``).
- :data:`WorkRect`: pixels of the cleaned working page (scaled, deskewed): boxes, rulings,
  regions, everything the page stages find.
- :data:`MaskRect`: pixels of one field's mask (a region's crop, or a field image's working
  pixels): digits, candidates, comb cells.
- :data:`Fractions`: ``[x0, y0, x1, y1]`` in 0..1 of a registration :class:`Frame` (the YAML's
  zones and regions).

The types are :class:`typing.NewType` aliases of one tuple: free at run time, and a reader (or a
type checker) sees at every signature which frame a rectangle is in. A rectangle changes frame
only through the functions here (:func:`mask_to_work`, :func:`work_to_source`,
:meth:`Frame.to_work`), never by hand-written offsets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, NewType, Sequence

import numpy as np

from formreader.results import BBox

Rect = tuple[int, int, int, int]  # x, y, w, h in some frame; prefer the named frames below
SourceRect = BBox
WorkRect = NewType("WorkRect", Rect)
MaskRect = NewType("MaskRect", Rect)
Fractions = Sequence[float]  # x0, y0, x1, y1 in 0..1 of a Frame


class Divider(NamedTuple):
    """A comb divider candidate on a box's ruling (working pixels)."""

    centre: float  # x of its middle
    x0: int
    x1: int  # exclusive
    up: float  # length up from the bottom ruling
    down: float  # length down from the top ruling


class DividerSpan(NamedTuple):
    """A comb divider as drawn, in working pixels, ends exclusive."""

    x0: int
    x1: int
    y0: int
    y1: int


@dataclass(frozen=True)
class Frame:
    """A registered form area in working pixels (its printed lines, corner marks, or the page);
    zones are fractions of it."""

    x0: float
    y0: float
    x1: float
    y1: float

    def to_work(self, rel: Fractions) -> WorkRect:
        """Fractions [x0, y0, x1, y1] of the frame -> (x, y, w, h) in working pixels."""
        w, h = self.x1 - self.x0, self.y1 - self.y0
        a = int(round(self.x0 + rel[0] * w))
        b = int(round(self.y0 + rel[1] * h))
        c = int(round(self.x0 + rel[2] * w))
        d = int(round(self.y0 + rel[3] * h))
        return WorkRect((a, b, max(c - a, 1), max(d - b, 1)))

    def centre_of(self, rect: WorkRect) -> tuple[float, float]:
        """Centre of a working-pixel rect as fractions of the frame."""
        x, y, w, h = rect
        return ((x + w / 2 - self.x0) / max(self.x1 - self.x0, 1e-9),
                (y + h / 2 - self.y0) / max(self.y1 - self.y0, 1e-9))


def mask_to_work(rect: MaskRect, origin: tuple[int, int]) -> WorkRect:
    """A rectangle of a region's mask in the working page that the mask was cut from at ``origin``."""
    x, y, w, h = rect
    return WorkRect((x + origin[0], y + origin[1], w, h))


def map_rect(rect: Rect, matrix: np.ndarray, limit: tuple[int, int] | None = None) -> Rect:
    """Bounding box (x, y, w, h) of a rectangle's four corners under a 2x3 affine map, clipped
    to ``limit`` = (width, height) when given."""
    x, y, w, h = rect
    pts = np.array([[x, y], [x + w, y], [x, y + h], [x + w, y + h]], np.float64)
    # The corners mapped by numpy, their extremes taken in Python: a reading maps every digit's
    # box, and numpy's per-call overhead on a 4 x 2 array was most of the cost.
    xs, ys = zip(*(pts @ matrix[:, :2].T + matrix[:, 2]).tolist())
    x0, y0 = math.floor(min(xs)), math.floor(min(ys))
    x1, y1 = math.ceil(max(xs)), math.ceil(max(ys))
    if limit is not None:
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, limit[0]), min(y1, limit[1])
    return int(x0), int(y0), int(max(x1 - x0, 0)), int(max(y1 - y0, 0))


def work_to_source(rect: WorkRect, from_work: np.ndarray, size: tuple[int, int]) -> SourceRect:
    """A working-page rectangle as the source rectangle that holds it (``from_work``: the page's
    2x3 map back to source pixels), within the source ``size`` (width, height)."""
    return map_rect(rect, from_work, size)


def source_to_work(rect: SourceRect, to_work: np.ndarray) -> WorkRect:
    """A source rectangle as the working-page rectangle that holds it."""
    return WorkRect(map_rect(rect, to_work))
