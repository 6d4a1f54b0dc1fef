"""What field finding hands on: a ruled :class:`Box`, the :class:`FieldRegion` of ink read as
one field, and the reading order of either (lines top to bottom, then left to right).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Literal

import numpy as np

from formreader.imaging.clean import components_with_centroids
from formreader.imaging.geometry import DividerSpan, MaskRect, WorkRect
from formreader.imaging.stats import median

Rect = WorkRect  # boxes and regions are found on the working page


@dataclass(frozen=True)
class Box:
    """A ruled box: ``outer`` includes its lines, ``inner`` is the writing area, ``cells`` the
    writing areas of a comb field (one digit each; empty for a plain box)."""

    outer: Rect
    inner: Rect
    cells: tuple[Rect, ...] = ()
    sides: tuple[int, int, int, int] = (1, 1, 1, 1)  # ruling thickness: top, bottom, left, right
    # Comb dividers found on the ruling itself: full-height lines or short ticks rising from
    # the bottom / hanging from the top ruling.
    dividers: tuple[DividerSpan, ...] = ()

    @property
    def thickness(self) -> int:
        return int(median(self.sides))


@dataclass
class FieldRegion:
    """The ink of one candidate field, cropped, with the lines of its box removed.

    ``mask`` covers ``origin`` (x, y) onwards in page (working) pixels. ``cells`` are comb cells
    in mask coordinates. ``digit_height`` is the expected height of a digit, from the box height
    or from the marks themselves.
    """

    kind: Literal["box", "comb", "free"]
    bbox: Rect
    mask: np.ndarray
    origin: tuple[int, int]
    digit_height: float
    cells: tuple[MaskRect, ...] = ()
    inner: MaskRect | None = None  # writing area in mask coordinates (boxes only)

    @cached_property
    def components(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The mask's :func:`formreader.imaging.clean.components_with_centroids`, labelled once for the
        line count and the segmenter, which both read them (a region with other ink is a new
        region: ``dataclasses.replace`` does not carry this over)."""
        return components_with_centroids(self.mask)


def _reading_key(rects_or_boxes: list[Any]) -> Callable[[Any], tuple[int, int, int]]:
    """Sort key for reading order: by line (rows of overlapping vertical extent), then x."""
    def rect(o: object) -> Rect:
        return o.outer if isinstance(o, Box) else o.bbox if isinstance(o, FieldRegion) else o  # type: ignore[return-value]

    items = [rect(o) for o in rects_or_boxes]
    order = sorted(range(len(items)), key=lambda i: (items[i][1] + items[i][3] / 2.0, items[i][0]))
    line_of: dict[Rect, int] = {}
    line, line_bottom = -1, -np.inf
    for i in order:
        x, y, w, h = items[i]
        centre = y + h / 2.0
        if centre > line_bottom:
            line += 1
            line_bottom = y + h
        else:
            line_bottom = max(line_bottom, centre)
        line_of[items[i]] = line
    return lambda o: (line_of.get(rect(o), 0), rect(o)[0], rect(o)[1])


def box_lines(boxes: list[Box]) -> list[list[Box]]:
    """Boxes grouped into lines (as reading order groups them, top to bottom), each left to right."""
    key = _reading_key(boxes)
    lines: dict[int, list[Box]] = {}
    for b in sorted(boxes, key=key):
        lines.setdefault(key(b)[0], []).append(b)
    return [lines[k] for k in sorted(lines)]


def reading_order(items: list[Any]) -> list[Any]:
    """Boxes, regions or rects sorted into reading order (lines top to bottom, then x)."""
    return sorted(items, key=_reading_key(items))
