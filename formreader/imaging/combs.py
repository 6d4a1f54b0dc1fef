"""Comb fields: boxes divided into one cell per digit by thin dividers, full-height lines or short
ticks from the top or bottom ruling, found where they stand at an even spacing across the box.
"""

from __future__ import annotations

import cv2
import numpy as np

from formreader.imaging.geometry import Divider, DividerSpan
from formreader.imaging.regions import Rect
from formreader.imaging.stats import median

# Fewest cells of a comb divided by ticks. With 3 (two ticks), two digits touching the top
# ruling a third of a box apart made a 5-digit HSF box a comb 4 times on 72 fresh HSF pages, and
# the digit between them was lost; tick combs on forms are for ZIP codes, dates and account
# numbers (4 cells and more).
MIN_TICK_CELLS = 4



def divider_candidates(ink: np.ndarray, inner: Rect, sides: tuple[int, int, int, int]
                       ) -> list[Divider]:
    """Thin vertical strokes standing on the bottom ruling or hanging from the top one inside a
    box, in page columns and inner-height pixels."""
    ix, iy, iw, ih = inner
    t, b = sides[0], sides[1]
    H, W = ink.shape
    ya, yb = max(iy - t, 0), min(iy + ih + b, H)
    ext = ink[ya:yb, ix : ix + iw].astype(np.uint8)
    if ext.size == 0:
        return []
    blank = cv2.morphologyEx(ext, cv2.MORPH_CLOSE, np.ones((3, 1), np.uint8)) == 0
    # Unbroken ink from the bottom / top edge of each column: the index of the first blank
    # row (argmax of the first True), or the whole height where there is none.
    full = ~blank.any(axis=0)
    up = np.where(full, blank.shape[0], blank[::-1].argmax(axis=0)) - (yb - (iy + ih))
    down = np.where(full, blank.shape[0], blank.argmax(axis=0)) - (iy - ya)
    up = np.clip(up, 0, ih).astype(float)
    down = np.clip(down, 0, ih).astype(float)
    tick = np.maximum(up, down) >= 0.15 * ih
    thick = max(sides)
    out = []
    edges = np.diff(np.concatenate([[0], tick.astype(np.int8), [0]]))
    for a, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if e - a > max(3, 2 * thick + 1):  # a broad mark (a digit's stroke along the ruling)
            continue
        out.append(Divider((a + e - 1) / 2.0 + ix, int(a + ix), int(e + ix), float(up[a:e].max()),
                           float(down[a:e].max())))
    return out


def _comb_from_dividers(ink: np.ndarray, inner: Rect, sides: tuple[int, int, int, int],
                        min_tick_cells: int = MIN_TICK_CELLS
                        ) -> tuple[tuple[Rect, ...], tuple[DividerSpan, ...]]:
    """Comb cells of a box from its dividers: thin vertical strokes from the top or bottom
    ruling at a regular spacing across the whole box (full-height lines, or short ticks).

    For each cell count n whose cells are 0.4-1.6 box heights wide, every one of the n - 1
    evenly spaced divider positions must hold a candidate, and the matched candidates must look
    alike (all full height, or ticks of similar length from the same ruling); the largest such n
    wins. Ticks need ``min_tick_cells`` cells: strokes of digits touching a ruling are too easily
    ticks. Returns (cells, dividers) or ((), ()).
    """
    ix, iy, iw, ih = inner
    if iw < 0.8 * ih or ih < 4:
        return (), ()
    cands = divider_candidates(ink, inner, sides)
    if not cands:
        return (), ()
    best: tuple[tuple[Rect, ...], tuple[DividerSpan, ...]] = ((), ())
    for n in range(2, int(iw / (0.4 * ih)) + 2):
        pitch = iw / n
        if not 0.4 * ih <= pitch <= 1.6 * ih:
            continue
        matched = _nearest_dividers(cands, ix, pitch, n)
        if any(c is None for c in matched):
            continue
        chosen = [c for c in matched if c is not None]
        if len({c.x0 for c in chosen}) != len(chosen):
            continue
        # Dividers are drawn with the pen of the rulings: alike in width, about as thick.
        widths = np.array([c.x1 - c.x0 for c in chosen], float)
        thick = median(sides)
        if widths.min() < 0.5 * thick or widths.max() > 2 * thick + 1 \
                or widths.max() - widths.min() > max(2.0, 0.5 * median(widths)):
            continue
        full = [_full_height(c, ih) for c in chosen]
        if all(full):
            kind = "full"
        elif any(full):
            continue
        else:
            if n < min_tick_cells:
                continue
            ups = [c.up >= c.down for c in chosen]
            if len(set(ups)) != 1:
                continue
            lengths = np.array([max(c.up, c.down) for c in chosen])
            med = median(lengths)
            if np.any(lengths > 1.6 * med) or np.any(lengths < 0.6 * med) or med > 0.7 * ih:
                continue
            kind = "up" if ups[0] else "down"
        bounds = [ix] + [x for c in chosen for x in (c.x0, c.x1)] + [ix + iw]
        cells = tuple((bounds[2 * i], iy, bounds[2 * i + 1] - bounds[2 * i], ih) for i in range(n))
        if min(c[2] for c in cells) < 0.3 * ih:
            continue
        best = (cells, tuple(_divider_span(c, iy, ih, kind) for c in chosen))
    return best


def _nearest_dividers(cands: list[Divider], ix: int, pitch: float, n: int) -> list[Divider | None]:
    """For each of the n - 1 evenly spaced cell edges of a comb, the divider candidate nearest
    it, or None where none is within tolerance of it."""
    pos = np.array([c.centre for c in cands])
    tol = max(2.0, 0.12 * pitch)
    d = np.abs(pos[None, :] - (ix + np.arange(1, n) * pitch)[:, None])  # (edges, candidates)
    j = d.argmin(axis=1)
    near = d[np.arange(n - 1), j] <= tol
    return [cands[jj] if ok else None for jj, ok in zip(j.tolist(), near.tolist())]


def _full_height(c: Divider, ih: int) -> bool:
    return max(c.up, c.down) >= 0.85 * ih or c.up + c.down >= 0.85 * ih


def _divider_span(c: Divider, iy: int, ih: int, kind: str, length: int | None = None
                  ) -> DividerSpan:
    """A divider's pixels to erase: the writing area's full height, or a tick
    of its own length (or ``length``) up from the bottom ruling or down from the top one."""
    if kind == "full":
        return DividerSpan(c.x0, c.x1, iy, iy + ih)
    if kind == "up":
        return DividerSpan(c.x0, c.x1, iy + ih - (length or int(np.ceil(c.up))), iy + ih)
    return DividerSpan(c.x0, c.x1, iy, iy + (length or int(np.ceil(c.down))))


def comb_dividers(ink: np.ndarray, inner: Rect, sides: tuple[int, int, int, int], cells: int
                  ) -> tuple[DividerSpan, ...]:
    """The dividers drawn between the ``cells`` of a comb whose cells are known (a template
    zone), where they are.

    A comb may divide its cells by full-height lines or by short ticks from one ruling. Erasing
    a full-height column at every cell edge would cut through each digit written across a tick,
    so each edge takes the thin stroke found there, and all take the length most of them share
    (a digit sitting on a tick lengthens that one).
    """
    ix, iy, iw, ih = inner
    found = divider_candidates(ink, inner, sides)
    matched = [c for c in _nearest_dividers(found, ix, iw / cells, cells) if c is not None] if found else []
    if not matched:
        return ()
    if 2 * sum(_full_height(c, ih) for c in matched) >= len(matched):
        return tuple(_divider_span(c, iy, ih, "full") for c in matched)
    kind = "up" if 2 * sum(c.up >= c.down for c in matched) >= len(matched) else "down"
    length = int(np.ceil(1.2 * median([c.up if kind == "up" else c.down for c in matched])))
    return tuple(_divider_span(c, iy, ih, kind, length) for c in matched)
