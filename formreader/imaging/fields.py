"""Where the handwriting is: drawn boxes and comb fields, or free-standing numbers.

A form tells the writer where to write with ruled boxes, so on a page that has boxes only ink
inside them is read; the printed labels and instructions around them are never fields. A page
without boxes (a note, a ledger) is read by grouping digit-sized marks into numbers by line and
spacing.

All sizes are fractions of the page or of the box at hand, so the same code serves 100-300 dpi.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Literal

import cv2
import numpy as np

from formreader.imaging.clean import as_uint8, components, components_with_centroids
from formreader.imaging.stats import median

Rect = tuple[int, int, int, int]  # x, y, w, h

# Shortest ruling searched for, as a fraction of the page width (horizontal) / height (vertical).
# A box for two digits is ~4% of a letter page wide and ~2.5% of it high; printed and handwritten
# characters have few straight runs longer than half of that.
H_LINE_FRAC = 0.02
V_LINE_FRAC = 0.01
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
class Box:
    """A ruled box: ``outer`` includes its lines, ``inner`` is the writing area, ``cells`` the
    writing areas of a comb field (one digit each; empty for a plain box)."""

    outer: Rect
    inner: Rect
    cells: tuple[Rect, ...] = ()
    sides: tuple[int, int, int, int] = (1, 1, 1, 1)  # ruling thickness: top, bottom, left, right
    # Comb dividers found on the ruling itself (x0, x1, y0, y1, page pixels, end exclusive):
    # full-height lines or short ticks rising from the bottom / hanging from the top ruling.
    dividers: tuple[tuple[int, int, int, int], ...] = ()

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
    cells: tuple[Rect, ...] = ()
    inner: Rect | None = None  # writing area in mask coordinates (boxes only)

    @cached_property
    def components(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """The mask's :func:`formreader.imaging.clean.components_with_centroids`, labelled once for the
        line count and the segmenter, which both read them (a region with other ink is a new
        region: ``dataclasses.replace`` does not carry this over)."""
        return components_with_centroids(self.mask)


def line_masks(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical rulings (uint8 0/1): runs of ink longer than a fraction of the
    page, found by morphological opening, with one-pixel breaks bridged.

    The morphology runs on the ink's bounding box only, grown by more than the operations can
    reach (each dilation spreads ink by at most its kernel, and an erosion near the box's edge
    sees only blank pixels there), so the result is the same as on the whole page at the cost
    of the part that has ink: a form often fills only part of its sheet.
    """
    m = as_uint8(mask)
    h, w = m.shape
    lh = max(8, int(round(H_LINE_FRAC * w)))
    lv = max(6, int(round(V_LINE_FRAC * h)))
    horiz = np.zeros((h, w), np.uint8)
    vert = np.zeros((h, w), np.uint8)
    bx, by, bw, bh = cv2.boundingRect(m)  # of the nonzero pixels
    if bw == 0 or bh == 0:
        return horiz, vert
    reach = 2 * (max(lh, lv) + 8)  # > 1 + max(lh, lv) + 2 of dilation plus a kernel of erosion
    x0, y0 = max(bx - reach, 0), max(by - reach, 0)
    x1, y1 = min(bx + bw + reach, w), min(by + bh + reach, h)
    sub = np.ascontiguousarray(m[y0:y1, x0:x1])
    # A line drawn at a residual angle of a few tenths of a degree steps by a pixel every
    # hundred or so; a 3-pixel closing across it keeps its runs long enough for the opening.
    hm = cv2.morphologyEx(sub, cv2.MORPH_CLOSE, np.ones((1, 3), np.uint8))
    vm = cv2.morphologyEx(sub, cv2.MORPH_CLOSE, np.ones((3, 1), np.uint8))
    hs = cv2.morphologyEx(hm, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (lh, 1)))
    vs = cv2.morphologyEx(vm, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, lv)))
    horiz[y0:y1, x0:x1] = cv2.morphologyEx(hs, cv2.MORPH_CLOSE, np.ones((1, 5), np.uint8))
    vert[y0:y1, x0:x1] = cv2.morphologyEx(vs, cv2.MORPH_CLOSE, np.ones((5, 1), np.uint8))
    return horiz, vert


def _fit_rulings(ink: np.ndarray, hole: Rect, cap: int) -> tuple[Rect, tuple[int, int, int, int]]:
    """The writing area and the thickness of each ruling (top, bottom, left, right), from the
    ink around a hole of the ruling network.

    The opening that found the rulings trims their wobbly edges, so the hole is a little larger
    than the blank area: each side is grown outwards over rows/columns that are mostly ink, and
    the writing area shrunk inwards over such rows/columns (at most the ruling's thickness more).
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


def find_boxes(mask: np.ndarray) -> list[Box]:
    """Ruled boxes on a binarized, deskewed page, in reading order.

    The writing areas are the holes of the network of rulings. Holes in one row of one network
    form a comb field when their widths are equal, else one box (a handwritten 1 touching both
    rulings also splits a box). Frames that hold other boxes, and holes too small or too thin to
    write a digit in, are not boxes.
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
        if fill < MIN_HOLE_FILL and not (fill >= NOTCHED_FILL and _notched_rectangle(c, x, y, w, h)):
            continue  # not a rectangle (e.g. the gap in a stroke, the loop of a 0)
        holes.setdefault(parent, []).append((x, y, w, h))
    boxes: list[Box] = []
    ink = mask if mask.dtype == bool else mask.astype(bool)  # read only: one copy at most, not one per row
    for parent in sorted(holes):
        rects = sorted(holes[parent], key=lambda r: (r[1], r[0]))
        for row in _rows(rects):
            boxes.extend(_boxes_from_row(row, ink))
    boxes = [b for b in boxes if _holds_writing(b)]
    # Frames around other boxes (or around the whole form) are layout, not fields.
    inners = [b.inner for b in boxes]
    kept = [b for b in boxes if not any(o is not b.inner and _contains(b.inner, o) for o in inners)]
    return sorted(kept, key=_reading_key(kept))


def _notched_rectangle(contour: np.ndarray, x: int, y: int, w: int, h: int) -> bool:
    """Whether a hole of the ruling mask is a rectangle with a few notches cut into it
    (STRAIGHT_SIDES, MAX_NOTCHES): its rows reach across nearly its whole width, or its columns
    down nearly its whole height."""
    filled = np.zeros((h, w), np.uint8)
    cv2.drawContours(filled, [contour - np.array([x, y], np.int32)], -1, 1, thickness=-1)

    def spanning(m: np.ndarray) -> np.ndarray:  # which rows of m reach across 90% of it
        first = m.argmax(axis=1)
        last = m.shape[1] - 1 - m[:, ::-1].argmax(axis=1)
        return (last - first + 1 >= 0.9 * m.shape[1]) & m.any(axis=1)

    across, down = spanning(filled), spanning(filled.T)
    straight, notched = (across, down) if across.mean() >= down.mean() else (down, across)
    most, half = STRAIGHT_SIDES
    notches = int(np.count_nonzero(np.diff(np.r_[1, notched.astype(np.int8), 1]) == -1))
    return bool(straight.mean() >= most and notched.mean() >= half and notches <= MAX_NOTCHES)


def _holds_writing(box: Box) -> bool:
    """Whether a box is a writing area, not the loop of a letter or digit (MIN_HOLE_PER_RULING)."""
    ruling = sorted(box.sides)[-2]
    return min(box.inner[2], box.inner[3]) >= MIN_HOLE_PER_RULING * ruling


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


def _paper_between(ink: np.ndarray, left: Rect, right: Rect) -> bool:
    """Whether a column of paper runs down between two holes a ruling or two apart: the sides
    of two boxes drawn a few pixels apart, not the one stroke of a 1 (or a comb's divider)
    splitting one box. (Boxes so close were merged into one, and a line of four HSF boxes read
    as one.) Wider gaps are a lost comb cell, where the paper beside its digit means nothing."""
    x0, x1 = left[0] + left[2], right[0]
    y0, y1 = max(left[1], right[1]), min(left[1] + left[3], right[1] + right[3])
    if x1 - x0 < 3 or y1 - y0 < 4:
        return False
    inked = ink[y0:y1, x0:x1].sum(axis=0)
    return bool((inked <= PAPER_COLUMN * (y1 - y0)).any())


def _boxes_from_row(row: list[Rect], ink: np.ndarray) -> list[Box]:
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
        if far or (gap <= cap and _paper_between(ink, prev, r)):
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
        cells, dividers = _comb_from_dividers(ink, inner, (t, b, l, rt))
        if not cells and not extended and _is_comb(g):
            cells = tuple(g)
        boxes.append(Box(outer=outer, inner=inner, cells=cells, sides=(t, b, l, rt), dividers=dividers))
    return boxes


# Fewest cells of a comb divided by ticks. With 3 (two ticks), two digits touching the top
# ruling a third of a box apart made a 5-digit HSF box a comb 4 times on 72 fresh HSF pages, and
# the digit between them was lost; tick combs on forms are for ZIP codes, dates and account
# numbers (4 cells and more).
MIN_TICK_CELLS = 4

# A divider candidate: centre x, x0, x1 (exclusive), length up from the bottom ruling, length
# down from the top one (see divider_candidates).
Divider = tuple[float, int, int, float, float]


def divider_candidates(ink: np.ndarray, inner: Rect, sides: tuple[int, int, int, int]
                       ) -> list[Divider]:
    """Thin vertical strokes standing on the bottom ruling or hanging from the top one inside a
    box: (centre x, x0, x1 (exclusive), length up from the bottom, length down from the top), in
    page columns and inner-height pixels."""
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
        out.append(((a + e - 1) / 2.0 + ix, int(a + ix), int(e + ix), float(up[a:e].max()), float(down[a:e].max())))
    return out


def _comb_from_dividers(ink: np.ndarray, inner: Rect, sides: tuple[int, int, int, int]
                        ) -> tuple[tuple[Rect, ...], tuple[tuple[int, int, int, int], ...]]:
    """Comb cells of a box from its dividers: thin vertical strokes from the top or bottom
    ruling at a regular spacing across the whole box (full-height lines, or short ticks).

    For each cell count n whose cells are 0.4-1.6 box heights wide, every one of the n - 1
    evenly spaced divider positions must hold a candidate, and the matched candidates must look
    alike (all full height, or ticks of similar length from the same ruling); the largest such n
    wins. Ticks need MIN_TICK_CELLS cells: strokes of digits touching a ruling are too easily
    ticks. Returns (cells, dividers) or ((), ()).
    """
    ix, iy, iw, ih = inner
    if iw < 0.8 * ih or ih < 4:
        return (), ()
    cands = divider_candidates(ink, inner, sides)
    if not cands:
        return (), ()
    best: tuple[tuple[Rect, ...], tuple[tuple[int, int, int, int], ...]] = ((), ())
    for n in range(2, int(iw / (0.4 * ih)) + 2):
        pitch = iw / n
        if not 0.4 * ih <= pitch <= 1.6 * ih:
            continue
        matched = _nearest_dividers(cands, ix, pitch, n)
        if any(c is None for c in matched):
            continue
        chosen = [c for c in matched if c is not None]
        if len({c[1] for c in chosen}) != len(chosen):
            continue
        # Dividers are drawn with the pen of the rulings: alike in width, about as thick.
        widths = np.array([c[2] - c[1] for c in chosen], float)
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
            if n < MIN_TICK_CELLS:
                continue
            ups = [c[3] >= c[4] for c in chosen]
            if len(set(ups)) != 1:
                continue
            lengths = np.array([max(c[3], c[4]) for c in chosen])
            med = median(lengths)
            if np.any(lengths > 1.6 * med) or np.any(lengths < 0.6 * med) or med > 0.7 * ih:
                continue
            kind = "up" if ups[0] else "down"
        bounds = [ix] + [x for c in chosen for x in (c[1], c[2])] + [ix + iw]
        cells = tuple((bounds[2 * i], iy, bounds[2 * i + 1] - bounds[2 * i], ih) for i in range(n))
        if min(c[2] for c in cells) < 0.3 * ih:
            continue
        best = (cells, tuple(_divider_span(c, iy, ih, kind) for c in chosen))
    return best



def _nearest_dividers(cands: list[Divider], ix: int, pitch: float, n: int) -> list[Divider | None]:
    """For each of the n - 1 evenly spaced cell edges of a comb, the divider candidate nearest
    it, or None where none is within tolerance of it."""
    pos = np.array([c[0] for c in cands])
    tol = max(2.0, 0.12 * pitch)
    d = np.abs(pos[None, :] - (ix + np.arange(1, n) * pitch)[:, None])  # (edges, candidates)
    j = d.argmin(axis=1)
    near = d[np.arange(n - 1), j] <= tol
    return [cands[jj] if ok else None for jj, ok in zip(j.tolist(), near.tolist())]


def _full_height(c: Divider, ih: int) -> bool:
    return max(c[3], c[4]) >= 0.85 * ih or c[3] + c[4] >= 0.85 * ih


def _divider_span(c: Divider, iy: int, ih: int, kind: str, length: int | None = None
                  ) -> tuple[int, int, int, int]:
    """A divider's pixels to erase (x0, x1, y0, y1): the writing area's full height, or a tick
    of its own length (or ``length``) up from the bottom ruling or down from the top one."""
    if kind == "full":
        return c[1], c[2], iy, iy + ih
    if kind == "up":
        return c[1], c[2], iy + ih - (length or int(np.ceil(c[3]))), iy + ih
    return c[1], c[2], iy, iy + (length or int(np.ceil(c[4])))


def comb_dividers(ink: np.ndarray, inner: Rect, sides: tuple[int, int, int, int], cells: int
                  ) -> tuple[tuple[int, int, int, int], ...]:
    """The dividers drawn between the ``cells`` of a comb whose cells are known (a template
    zone), where they are (x0, x1, y0, y1).

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
    kind = "up" if 2 * sum(c[3] >= c[4] for c in matched) >= len(matched) else "down"
    length = int(np.ceil(1.2 * median([c[3] if kind == "up" else c[4] for c in matched])))
    return tuple(_divider_span(c, iy, ih, kind, length) for c in matched)


def _contains(a: Rect, b: Rect) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and a[0] + a[2] >= b[0] + b[2] and a[1] + a[3] >= b[1] + b[3]


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


def remove_rulings(crop: np.ndarray, inner: Rect, sides: tuple[int, int, int, int],
                   dividers: tuple[tuple[int, ...], ...] = ()) -> np.ndarray:
    """Erase a box's rulings from a crop of ink, keeping the strokes that cross them.

    ``inner`` is the writing area in crop coordinates; the rulings are the bands around it,
    ``sides`` = (top, bottom, left, right) pixels thick, plus vertical ``dividers`` (x0, x1)
    between comb cells, optionally with their rows (x0, x1, y0, y1; default the writing area's
    height: a tick mark divides a comb over part of it only). A band pixel stays when ink
    continues on both sides of the band within a stroke width, i.e. a stroke crosses. Rulings
    are wobbly by a pixel or two, so each band is widened by half its thickness (at least 1 px)
    on both sides. Of a horizontal band only the ruling's long runs (half the writing area's
    height or more) go: writing that bulges over the ruling inside the band, like the top of a
    9's loop drawn on the line, stays (12 fresh sets: 234 wrong fields against 243 when the
    band is cleared whole; golden 9 against 10). Vertical bands are still cleared whole: scraps of comb dividers that the same
    rule keeps read as 1s (247 wrong).
    """
    out = crop.copy()
    H, W = crop.shape
    x, y, w, h = inner
    t = max(1, max(sides))
    reach = t + 1  # horizontal slack for slanted strokes
    kernel = np.ones((1, 2 * reach + 1), np.uint8)
    kernel_v = np.ones((2 * reach + 1, 1), np.uint8)

    def clear_rows(r0: int, r1: int) -> None:
        r0, r1 = max(r0, 0), min(r1, H)
        if r1 <= r0:
            return
        above = crop[max(r0 - 2, 0) : r0].any(axis=0) if r0 > 0 else np.zeros(W, bool)
        below = crop[r1 : r1 + 2].any(axis=0) if r1 < H else np.zeros(W, bool)
        above = cv2.dilate(above.astype(np.uint8)[None], kernel)[0] > 0
        below = cv2.dilate(below.astype(np.uint8)[None], kernel)[0] > 0
        band = crop[r0:r1] & ~(above & below)[None]
        # Only the ruling's long runs go: writing that bulges over it inside the widened band
        # (the top of a 9's loop drawn on the line) stays, as a loose cap of its digit.
        band &= cv2.morphologyEx(crop[r0:r1].astype(np.uint8), cv2.MORPH_OPEN,
                                 np.ones((1, max(3, h // 2)), np.uint8)) > 0
        out[r0:r1] &= ~band

    def clear_cols(c0: int, c1: int, r0: int, r1: int) -> None:
        c0, c1 = max(c0, 0), min(c1, W)
        r0, r1 = max(r0, 0), min(r1, H)
        if c1 <= c0 or r1 <= r0:
            return
        left = crop[r0:r1, max(c0 - 2, 0) : c0].any(axis=1) if c0 > 0 else np.zeros(r1 - r0, bool)
        right = crop[r0:r1, c1 : c1 + 2].any(axis=1) if c1 < W else np.zeros(r1 - r0, bool)
        left = cv2.dilate(left.astype(np.uint8)[:, None], kernel_v)[:, 0] > 0
        right = cv2.dilate(right.astype(np.uint8)[:, None], kernel_v)[:, 0] > 0
        band = crop[r0:r1, c0:c1] & ~(left & right)[:, None]
        out[r0:r1, c0:c1] &= ~band

    top, bottom, left, right = (max(1, s) for s in sides)

    def pad(s: int) -> int:
        return max(1, (s + 1) // 2)

    def keep_continuing(src: np.ndarray, dst: np.ndarray, p0: int, p1: int, n0: int, n1: int) -> None:
        """The widening inside the writing area (rows p0:p1 of ``src``) holds the ruling's wobble
        but also strokes touching the ruling from inside, such as a 7's bar: give back to
        ``dst`` the ink that goes on inwards (rows n0:n1 next to it). Columns: pass the
        transposed views."""
        n = src.shape[0]
        p0, p1, n0, n1 = max(p0, 0), min(p1, n), max(n0, 0), min(n1, n)
        if p1 > p0 and n1 > n0 and src.shape[1]:
            on = cv2.dilate(src[n0:n1].any(axis=0).astype(np.uint8)[None], np.ones((1, 3), np.uint8))[0] > 0
            dst[p0:p1] |= src[p0:p1] & on[None]

    clear_rows(y - top - pad(top), y + pad(top))
    clear_rows(y + h - pad(bottom), y + h + bottom + pad(bottom))
    keep_continuing(crop, out, y, y + pad(top), y + pad(top), y + pad(top) + 2)
    keep_continuing(crop, out, y + h - pad(bottom), y + h, y + h - pad(bottom) - 2, y + h - pad(bottom))
    clear_cols(x - left - pad(left), x + pad(left), y - top - pad(top), y + h + bottom + pad(bottom))
    clear_cols(x + w - pad(right), x + w + right + pad(right), y - top - pad(top), y + h + bottom + pad(bottom))
    rows = slice(max(y, 0), min(y + h, H))  # beside the side rulings: the writing area's rows
    src, dst = crop[rows].T, out[rows].T
    keep_continuing(src, dst, x, x + pad(left), x + pad(left), x + pad(left) + 2)
    keep_continuing(src, dst, x + w - pad(right), x + w, x + w - pad(right) - 2, x + w - pad(right))
    p = pad(left)
    for d in dividers:
        c0, c1 = d[0], d[1]
        r0, r1 = (d[2], d[3]) if len(d) >= 4 else (y, y + h)
        clear_cols(c0 - p, c1 + p, max(r0 - p, y), min(r1 + p, y + h))
    return out


def _keep_inside(ink: np.ndarray, inner: Rect, sides: tuple[int, int, int, int],
                 min_inside: float = 0.5) -> np.ndarray:
    """The connected components that lie mostly inside the writing area, whole (a digit that
    crosses the ruling keeps its part outside; the printed label above the box goes), less the
    slivers of ruling that removal left: marks lying entirely within a ruling's zone."""
    n, labels, stats = components(ink)
    if n <= 1:
        return np.zeros(ink.shape, bool)
    x, y, w, h = inner
    # Counted on the labels as found (16-bit on a box's crop): less to copy than wide ones.
    inside = np.bincount(labels[y : y + h, x : x + w].ravel(), minlength=n)
    keep = inside >= min_inside * stats[:, cv2.CC_STAT_AREA]
    # The rulings' zone is bands of whole rows and whole columns, so its complement is a grid:
    # (rows outside the row bands) x (columns outside the column bands), gathered by rows,
    # then columns (a third sooner than one np.ix_ gather).
    zone_rows = np.zeros(ink.shape[0], bool)
    zone_cols = np.zeros(ink.shape[1], bool)
    top, bottom, left, right = (max(1, s) for s in sides)
    m = max(2, max(sides))
    zone_rows[max(y - top - m, 0) : y + m] = True
    zone_rows[max(y + h - m, 0) : y + h + bottom + m] = True
    zone_cols[max(x - left - m, 0) : x + m] = True
    zone_cols[max(x + w - m, 0) : x + w + right + m] = True
    outside = np.bincount(labels[~zone_rows][:, ~zone_cols].ravel(), minlength=n)
    keep &= outside > 0.1 * stats[:, cv2.CC_STAT_AREA]
    keep[0] = False
    return keep.take(labels.astype(np.intp))  # numpy's take is slow with 16-bit indices


def box_region(mask: np.ndarray, box: Box) -> FieldRegion:
    """The ink of one box: a crop around it (with room for strokes that leave the box), rulings
    removed, only the marks that belong inside."""
    H, W = mask.shape
    ox, oy, ow, oh = box.outer
    ix, iy, iw, ih = box.inner
    margin = int(round(0.35 * ih))
    x0, y0 = max(ox - margin, 0), max(oy - margin, 0)
    x1, y1 = min(ox + ow + margin, W), min(oy + oh + margin, H)
    crop = mask[y0:y1, x0:x1].astype(bool)
    inner = (ix - x0, iy - y0, iw, ih)
    dividers: list[tuple[int, ...]] = []
    cells = tuple((cx - x0, cy - y0, cw, ch) for cx, cy, cw, ch in box.cells)
    if box.dividers:  # found on the ruling: full height or a tick, erased over its own rows
        dividers = [(a - x0, b - x0, r0 - y0, r1 - y0) for a, b, r0, r1 in box.dividers]
    else:
        for a, b in zip(cells, cells[1:]):
            dividers.append((a[0] + a[2], b[0]))
    clean = remove_rulings(crop, inner, box.sides, tuple(dividers))
    ink = _keep_inside(clean, inner, box.sides)
    return FieldRegion(kind="comb" if cells else "box", bbox=box.outer, mask=ink, origin=(x0, y0),
                       digit_height=0.7 * ih, cells=cells, inner=inner)


def text_lines(mask: np.ndarray, stats: np.ndarray | None = None) -> int:
    """How many lines of writing a mask holds: bands of ink rows separated by blank rows (several
    lines = a paragraph or an address, not a number). Bands shorter than a third of the typical
    mark height (a stray dot, an accent) do not count, and gaps shorter than a fifth of it (a
    descender nearly touching the next line) do not separate. ``stats``: the mask's component
    statistics, when the caller has them (:attr:`FieldRegion.components`)."""
    rows = mask.any(axis=1)
    if not rows.any():
        return 0
    if stats is None:
        _, _, stats = components(mask)
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    char_h = median(heights)
    edges = np.diff(np.concatenate([[0], rows.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    bands: list[list[int]] = []
    for a, b in zip(starts, ends):
        if bands and a - bands[-1][1] < max(1, 0.2 * char_h):
            bands[-1][1] = int(b)
        else:
            bands.append([int(a), int(b)])
    return sum(1 for a, b in bands if b - a >= max(2, 0.3 * char_h))


def free_regions(mask: np.ndarray) -> list[FieldRegion]:
    """Numbers written without boxes: digit-sized marks grouped into lines by vertical overlap,
    and into numbers by gaps smaller than a digit height.

    The digit height is the median height of the page's sizeable marks, so it adapts to the
    resolution and the writer.
    """
    n, labels, stats = components(mask)
    if n <= 1:
        return []
    H, W = mask.shape
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    big = h >= max(4, 0.006 * H)
    big &= h <= 0.15 * H
    if not big.any():
        return []
    digit_h = median(h[big])
    marks = np.flatnonzero((h >= 0.25 * digit_h) & (h <= 3 * digit_h) & (w <= 10 * digit_h))
    if marks.size == 0:
        return []
    # Lines: chain marks whose vertical centres lie within half a digit height.
    order = sorted(marks, key=lambda i: (y[i] + h[i] / 2.0, x[i]))
    lines: list[list[int]] = []
    for i in order:
        cy = y[i] + h[i] / 2.0
        for line in lines:
            ly = np.mean([y[j] + h[j] / 2.0 for j in line])
            if abs(cy - ly) < 0.5 * digit_h:
                line.append(i)
                break
        else:
            lines.append([i])
    regions = []
    for line in lines:
        line.sort(key=lambda i: x[i])
        group = [line[0]]
        groups = [group]
        for i in line[1:]:
            right = max(x[j] + w[j] for j in group)
            if x[i] - right > 0.8 * digit_h:
                group = [i]
                groups.append(group)
            else:
                group.append(i)
        for g in groups:
            if max(h[j] for j in g) < 0.6 * digit_h:  # only dots and dashes
                continue
            gx0 = min(x[j] for j in g)
            gy0 = min(y[j] for j in g)
            gx1 = max(x[j] + w[j] for j in g)
            gy1 = max(y[j] + h[j] for j in g)
            sub = np.isin(labels[gy0:gy1, gx0:gx1], np.array(g) + 1)
            regions.append(FieldRegion(kind="free", bbox=(int(gx0), int(gy0), int(gx1 - gx0), int(gy1 - gy0)),
                                       mask=sub, origin=(int(gx0), int(gy0)), digit_height=digit_h))
    return reading_order(regions)


def find_regions(mask: np.ndarray, mode: str = "auto") -> list[FieldRegion]:
    """Candidate fields of a page in reading order: boxes (``boxes``), free numbers (``free``),
    or boxes where the page has any with ink in them, else free numbers (``auto``)."""
    if mode not in ("auto", "boxes", "free"):
        raise ValueError(f"unknown field mode {mode!r}")
    if mode in ("auto", "boxes"):
        boxes = find_boxes(mask)
        regions = [box_region(mask, b) for b in boxes]
        if mode == "boxes" or boxes:
            return [r for r in regions if r.mask.any()]
    return free_regions(mask)
