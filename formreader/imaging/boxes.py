"""Ruled boxes on a page: the writing areas are the holes of the network of rulings, told from
the loops of letters and digits by their shape, grouped by row into boxes (or the cells of a
comb), with the thickness of each ruling measured for its removal.

All sizes are fractions of the page or of the box at hand, so the same code serves 100-300 dpi.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from formreader.imaging.combs import MIN_TICK_CELLS, _comb_from_dividers
from formreader.imaging.regions import Box, Rect, _reading_key
from formreader.imaging.rulings import line_masks
from formreader.imaging.stats import median

# Of the rows (columns) of ink along a box's edge, those at least this share as full as the
# fullest are the ruling. Strokes touching it from inside (the bars of two 7s side by side) can
# fill half of a short box's width; counted as ruling, they were erased with it.
RULING_CORE = 0.6
# A writing area is at least this many times as high and wide as its rulings are thick. The
# loop of a 9 or of a bold printed D or O has straight enough sides to pass as rulings, but its
# hole is at most ~4 strokes across; the smallest real box on the golden, fresh and NIST pages
# is ~10 rulings high. The second-thickest side is used: digits touching one ruling thicken it.
MIN_HOLE_PER_RULING = 4.0
# A box's writing area fills at least MIN_HOLE_FILL of its bounding rectangle in the mask of
# rulings; an ellipse fills pi/4 = 0.785 (the loop of a bold 0 passes for a box below that). A
# hole between NOTCHED_FILL and MIN_HOLE_FILL is still a box when its sides run straight along
# its bounding rectangle: bold digits fused with a box's sides leave their straight strokes in
# the mask of rulings as notches (a 1 and the stem of a 4 took 23% of one box, which was lost).
MIN_HOLE_FILL = 0.8
NOTCHED_FILL = 0.6
# Straight sides: nearly every row of the hole spans nearly its whole width (notches hang from
# the top and bottom rulings) or nearly every column its whole height, and at least half of the
# other way does. An ellipse: 44% either way; the loops of 0s measured 25-56%; the notched boxes
# 100% of rows and 60-70% of columns.
STRAIGHT_SIDES = (0.9, 0.5)
# More notches than this, evenly cut from a ruling, are the dividers of a comb (the comb finder
# reads those); the notched boxes had 1-2, a cheque's date comb 6.
MAX_NOTCHES = 3
# Between two holes, a column at most this inked over their common height is paper: two boxes
# side by side, not one box split by a stroke.
PAPER_COLUMN = 0.05


@dataclass(frozen=True)
class BoxShape:
    """What makes a hole in the rulings a box: the module constants above, as one argument of
    :func:`find_boxes` (each documented where it is defined)."""

    min_hole_per_ruling: float = MIN_HOLE_PER_RULING  # writing area / ruling thickness, >= 1
    min_hole_fill: float = MIN_HOLE_FILL  # hole area / its bounding rectangle, 0..1
    notched_fill: float = NOTCHED_FILL  # the same for a notched rectangle, 0..min_hole_fill
    straight_sides: tuple[float, float] = STRAIGHT_SIDES  # shares of rows / columns spanning it, 0..1
    max_notches: int = MAX_NOTCHES  # notches in one side, >= 0
    paper_column: float = PAPER_COLUMN  # inked share of a column that is still paper, 0..1
    min_tick_cells: int = MIN_TICK_CELLS  # cells a comb of ticks needs, >= 2


def _fit_rulings(ink: np.ndarray, hole: Rect, cap: int) -> tuple[Rect, tuple[int, int, int, int]]:
    """The writing area and the thickness of each ruling (top, bottom, left, right), from the
    ink around a hole of the ruling network.

    The opening that found the rulings trims their wobbly edges, so the hole is a little larger
    than the blank area: each side is grown outwards over rows/columns that are mostly ink, and
    the writing area shrunk inwards over such rows/columns (at most the ruling's thickness more).

    Kept in one piece: the four sides are fitted by one rule, written out side by side so that
    they stay alike.
    """
    x, y, w, h = hole
    H, W = ink.shape

    def extent(axis_rows: bool, edge: int, outward: int) -> tuple[int, int]:
        """(thickness outside the hole, rows/cols of ruling inside it) at a hole edge; ``edge`` is
        the first index inside the hole, ``outward`` -1 (top/left) or +1 (bottom/right)."""
        idx_out = [edge + outward * k for k in range(1, cap + 1)]
        idx_in = [edge - outward * k for k in range(0, cap)]
        lim = H if axis_rows else W
        # The ink fraction of every row/column the walks below may visit, in one reduction
        # (count / n: the same float as each slice's mean).
        a, b = max(edge - cap, 0), min(edge + cap + 1, lim)
        if axis_rows:
            block = ink[a:b, x : x + w]
            frac = np.count_nonzero(block, axis=1) / block.shape[1] if block.shape[1] else np.full(b - a, np.nan)
        else:
            block = ink[y : y + h, a:b]
            frac = np.count_nonzero(block, axis=0) / block.shape[0] if block.shape[0] else np.full(b - a, np.nan)
        t_out = 0
        for i in idx_out:
            if not 0 <= i < lim or frac[i - a] < 0.3:
                break
            t_out += 1
        t_in = 0
        for i in idx_in[: t_out + 1]:
            if not 0 <= i < lim or frac[i - a] < 0.3:
                break
            t_in += 1
        if t_out + t_in == 0:
            return 0, 0
        # The band found holds the ruling and whatever touches it along its length. The ruling
        # is the run of rows nearly as full as the fullest; rows of the band on the writing
        # side of it are strokes touching it from inside and belong to the writing area.
        band = [edge - outward * k for k in range(t_in - 1, -1, -1)] + idx_out[:t_out]  # inside -> out
        f = frac[np.asarray(band) - a]
        core = f >= RULING_CORE * f.max()
        peak = int(np.argmax(f))
        lo = peak
        while lo > 0 and core[lo - 1]:
            lo -= 1
        hi = peak
        while hi + 1 < len(band) and core[hi + 1]:
            hi += 1
        inside = t_in - lo  # rows of ruling inside the hole; negative: the hole starts past bars
        return hi - lo + 1 - inside, inside

    t_out, t_in = extent(True, y, -1)
    b_out, b_in = extent(True, y + h - 1, +1)
    l_out, l_in = extent(False, x, -1)
    r_out, r_in = extent(False, x + w - 1, +1)
    inner = (x + l_in, y + t_in, max(w - l_in - r_in, 1), max(h - t_in - b_in, 1))
    sides = (max(t_out + t_in, 1), max(b_out + b_in, 1), max(l_out + l_in, 1), max(r_out + r_in, 1))
    return inner, sides


def _is_comb(cells: list[Rect]) -> bool:
    """Several side-by-side cells of equal width, each about as wide as tall: one digit each."""
    if len(cells) < 2:
        return False
    widths = np.array([c[2] for c in cells], float)
    heights = np.array([c[3] for c in cells], float)
    med = median(widths)
    return bool(np.all(np.abs(widths - med) <= 0.2 * med) and np.all(widths <= 1.5 * heights))


def find_boxes(mask: np.ndarray, shape: BoxShape = BoxShape()) -> list[Box]:
    """Ruled boxes on a binarized, deskewed page, in reading order.

    The writing areas are the holes of the network of rulings. Holes in one row of one network
    form a comb field when their widths are equal, else one box (a handwritten 1 touching both
    rulings also splits a box). Frames that hold other boxes, and holes too small or too thin to
    write a digit in (``shape``), are not boxes.
    """
    horiz, vert = line_masks(mask)
    lines = cv2.bitwise_or(horiz, vert)
    H, W = mask.shape
    min_h = max(8, int(0.015 * H))  # a digit box is at least ~0.17 inch high
    min_w = max(6, int(0.006 * W))
    contours, hierarchy = cv2.findContours(lines, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    hierarchy = hierarchy[0]
    holes: dict[int, list[Rect]] = {}
    for i, c in enumerate(contours):
        parent = int(hierarchy[i][3])
        if parent < 0:
            continue
        x, y, w, h = cv2.boundingRect(c)
        if h < min_h or w < min_w:
            continue
        fill = cv2.contourArea(c) / float(w * h)
        if fill < shape.min_hole_fill and not (fill >= shape.notched_fill and _notched_rectangle(c, x, y, w, h, shape)):
            continue  # not a rectangle (e.g. the gap in a stroke, the loop of a 0)
        holes.setdefault(parent, []).append((x, y, w, h))
    boxes: list[Box] = []
    ink = mask if mask.dtype == bool else mask.astype(bool)  # read only: one copy at most, not one per row
    for parent in sorted(holes):
        rects = sorted(holes[parent], key=lambda r: (r[1], r[0]))
        for row in _rows(rects):
            boxes.extend(_boxes_from_row(row, ink, shape))
    boxes = [b for b in boxes if _holds_writing(b, shape.min_hole_per_ruling)]
    # Frames around other boxes (or around the whole form) are layout, not fields.
    inners = [b.inner for b in boxes]
    kept = [b for b in boxes if not any(o is not b.inner and _contains(b.inner, o) for o in inners)]
    return sorted(kept, key=_reading_key(kept))


def _notched_rectangle(contour: np.ndarray, x: int, y: int, w: int, h: int, shape: BoxShape) -> bool:
    """Whether a hole of the ruling mask is a rectangle with a few notches cut into it
    (``shape.straight_sides``, ``shape.max_notches``): its rows reach across nearly its whole width, or its columns
    down nearly its whole height."""
    filled = np.zeros((h, w), np.uint8)
    cv2.drawContours(filled, [contour - np.array([x, y], np.int32)], -1, 1, thickness=-1)

    def spanning(m: np.ndarray) -> np.ndarray:  # which rows of m reach across 90% of it
        first = m.argmax(axis=1)
        last = m.shape[1] - 1 - m[:, ::-1].argmax(axis=1)
        return (last - first + 1 >= 0.9 * m.shape[1]) & m.any(axis=1)

    across, down = spanning(filled), spanning(filled.T)
    straight, notched = (across, down) if across.mean() >= down.mean() else (down, across)
    most, half = shape.straight_sides
    notches = int(np.count_nonzero(np.diff(np.r_[1, notched.astype(np.int8), 1]) == -1))
    return bool(straight.mean() >= most and notched.mean() >= half and notches <= shape.max_notches)


def _holds_writing(box: Box, min_hole_per_ruling: float) -> bool:
    """Whether a box is a writing area, not the loop of a letter or digit (MIN_HOLE_PER_RULING)."""
    ruling = sorted(box.sides)[-2]
    return min(box.inner[2], box.inner[3]) >= min_hole_per_ruling * ruling


def _rows(rects: list[Rect]) -> list[list[Rect]]:
    """Group rectangles whose vertical extents overlap by more than half into rows."""
    rows: list[list[Rect]] = []
    for r in rects:
        for row in rows:
            ref = row[0]
            ov = min(r[1] + r[3], ref[1] + ref[3]) - max(r[1], ref[1])
            if ov > 0.5 * min(r[3], ref[3]):
                row.append(r)
                break
        else:
            rows.append([r])
    return [sorted(row) for row in rows]


def _rulings_continue(ink: np.ndarray, x0: int, x1: int, y0: int, y1: int, cap: int) -> bool:
    """Whether the top and bottom rulings of a row of holes (rows ``y0``..``y1``) run on over
    columns ``x0``..``x1``: ink within ``cap`` rows of each edge in (nearly) every column."""
    H, W = ink.shape
    x0, x1 = max(x0, 0), min(x1, W)
    if x1 <= x0:
        return True
    top = ink[max(y0 - cap, 0) : y0 + 1, x0:x1].any(axis=0)
    bottom = ink[max(y1 - 1, 0) : min(y1 + cap, H), x0:x1].any(axis=0)
    return bool(top.mean() >= 0.9 and bottom.mean() >= 0.9)


def _extend(ink: np.ndarray, x: int, step: int, limit: int, y0: int, y1: int, cap: int) -> int | None:
    """Where a box really ends when a cell at its end lost its hole to line removal: from column
    ``x`` (the first column outside a group of holes, walking by ``step`` = -1 or +1) the top
    and bottom rulings run on (at most ``limit`` columns) to the box's side ruling. Returns the
    writing area's new edge (left: first column; right: end, exclusive), or None when the
    rulings do not end within ``limit``."""
    H, W = ink.shape
    if limit <= 0:
        return None
    # Columns x, x + step, ... up to ``limit`` of them, as far as the page goes; in each, the
    # rulings continue when there is ink within ``cap`` rows of both edges (the one-column
    # case of _rulings_continue), all columns in one reduction each.
    n_in = min(limit, (W - x) if step > 0 else (x + 1)) if 0 <= x < W else 0
    n_in = max(n_in, 0)
    if n_in:
        lo, hi = (x, x + n_in) if step > 0 else (x - n_in + 1, x + 1)
        top = ink[max(y0 - cap, 0) : y0 + 1, lo:hi].any(axis=0)
        bottom = ink[max(y1 - 1, 0) : min(y1 + cap, H), lo:hi].any(axis=0)
        runs_on = top & bottom
        if step < 0:
            runs_on = runs_on[::-1]
        stops = np.flatnonzero(~runs_on)
        k_stop = int(stops[0]) if stops.size else n_in
    else:
        k_stop = 0
    if k_stop == limit:  # (so every column of the walk is on the page)
        return None  # the rulings run on: not the end of this box
    if k_stop == 0:
        return x if step < 0 else x + 1
    end = x + step * (k_stop - 1)
    # The outermost column of the box: walk back inward over the side ruling (columns at
    # least half ink), at most back to x.
    c = end
    if y1 > y0:
        lo, hi = (x, end + 1) if step > 0 else (end, x + 1)
        half = np.count_nonzero(ink[y0:y1, lo:hi], axis=0) / ink[y0:y1, lo:hi].shape[0] >= 0.5
        if step > 0:
            half = half[::-1]  # from ``end`` inward
        solid = np.flatnonzero(~half)
        c = end - step * (int(solid[0]) if solid.size else half.size)
    return c if step < 0 else c + 1


def _paper_between(ink: np.ndarray, left: Rect, right: Rect, paper_column: float) -> bool:
    """Whether a column of paper runs down between two holes a ruling or two apart: the sides
    of two boxes drawn a few pixels apart, not the one stroke of a 1 (or a comb's divider)
    splitting one box. (Boxes so close were merged into one, and a line of four HSF boxes read
    as one.) Wider gaps are a lost comb cell, where the paper beside its digit means nothing."""
    x0, x1 = left[0] + left[2], right[0]
    y0, y1 = max(left[1], right[1]), min(left[1] + left[3], right[1] + right[3])
    if x1 - x0 < 3 or y1 - y0 < 4:
        return False
    inked = ink[y0:y1, x0:x1].sum(axis=0)
    return bool((inked <= paper_column * (y1 - y0)).any())


def _boxes_from_row(row: list[Rect], ink: np.ndarray, shape: BoxShape) -> list[Box]:
    cap = max(2, int(0.25 * min(r[3] for r in row)))
    # Split the row where neighbouring holes are far apart (separate boxes of one network),
    # unless the box's top and bottom rulings run on across the gap: a cell whose digit line
    # removal could not tell from ruling (its hole was lost) lies between them.
    groups: list[list[Rect]] = [[row[0]]]
    for r in row[1:]:
        prev = groups[-1][-1]
        gap = r[0] - (prev[0] + prev[2])
        g = groups[-1]
        y0 = min(q[1] for q in g + [r])
        y1 = max(q[1] + q[3] for q in g + [r])
        span = max(max(q[3] for q in g + [r]), median([q[2] for q in g + [r]]))
        far = gap > 2 * cap and not (gap <= 1.6 * span and _rulings_continue(ink, prev[0] + prev[2], r[0], y0, y1, cap))
        if far or (gap <= cap and _paper_between(ink, prev, r, shape.paper_column)):
            groups.append([r])
        else:
            g.append(r)
    boxes = []
    for g in groups:
        x0 = min(r[0] for r in g)
        y0 = min(r[1] for r in g)
        x1 = max(r[0] + r[2] for r in g)
        y1 = max(r[1] + r[3] for r in g)
        # A lost cell at either end of a comb: the rulings run on past the last hole.
        limit = int(1.6 * max(y1 - y0, median([r[2] for r in g])))
        nx0 = _extend(ink, x0 - 1, -1, limit, y0, y1, cap)
        nx1 = _extend(ink, x1, +1, limit, y0, y1, cap)
        extended = False
        if nx0 is not None and nx0 < x0 - 2 * cap:
            x0, extended = nx0, True
        if nx1 is not None and nx1 > x1 + 2 * cap:
            x1, extended = nx1, True
        inner, (t, b, l, rt) = _fit_rulings(ink, (x0, y0, x1 - x0, y1 - y0), cap)
        ix, iy, iw, ih = inner
        outer = (ix - l, iy - t, iw + l + rt, ih + t + b)
        cells, dividers = _comb_from_dividers(ink, inner, (t, b, l, rt), shape.min_tick_cells)
        if not cells and not extended and _is_comb(g):
            cells = tuple(g)
        boxes.append(Box(outer=outer, inner=inner, cells=cells, sides=(t, b, l, rt), dividers=dividers))
    return boxes


def _contains(a: Rect, b: Rect) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a[0] + a[2] >= b[0] + b[2] and a[1] + a[3] >= b[1] + b[3]
