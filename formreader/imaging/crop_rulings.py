"""Rulings in a field image: the underline, the table's lines, a box's sides, found and taken
out without the strokes that cross them (:func:`remove_lines`), the pieces of a ruling too
faint elsewhere to be ink (:func:`faint_ruling_pieces`), and the pen width that every
size here is measured in (:func:`stroke_width`). A stage of :func:`formreader.imaging.crop_clean.clean_field`.
"""

from __future__ import annotations

import cv2
import numpy as np

from formreader.imaging.clean import as_uint8, components

# A vertical run at least this share of the crop's height that turns into a horizontal ruling
# at both ends is a box's side, wherever it lies (remove_lines).
BOX_SIDE = 0.2
# A vertical run at a crop's side shorter than 75% of its height is a ruling's piece only when
# it comes within this share of the height of the top or the bottom (remove_lines).
SIDE_END = 0.1


def stroke_width(mask: np.ndarray) -> float:
    """Typical pen width in pixels: twice the mean distance of ink to paper, over the ink."""
    if not mask.any() or mask.all():
        return 1.0
    dist = cv2.distanceTransform(as_uint8(mask), cv2.DIST_L2, 3)
    ridge = dist[dist >= 1.0]
    return float(2.0 * np.median(ridge)) if ridge.size else 1.0


def straight_runs(mask: np.ndarray, lengths: tuple[int, ...], horizontal: bool, gap: int = 0) -> list[np.ndarray]:
    """Pixels on straight runs of ink at least each of ``lengths`` long (one pixel's tolerance
    across, breaks of up to ``gap`` pixels along: a worn ruling comes in pieces)."""
    m = as_uint8(mask)
    # A ruling on a slightly skewed scan steps by a pixel: close the steps across it first.
    across = cv2.getStructuringElement(cv2.MORPH_RECT, (1, 3) if horizontal else (3, 1))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, across)
    if gap > 0:
        along = cv2.getStructuringElement(cv2.MORPH_RECT, (gap + 1, 1) if horizontal else (1, gap + 1))
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, along)
    out = []
    for length in lengths:
        size = (length, 1) if horizontal else (1, length)
        opened = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, size))
        # Rulings widened by a pixel either way: their anti-aliased edges go with them.
        out.append((cv2.dilate(opened, across) > 0) & mask)
    return out


def remove_lines(mask: np.ndarray, h_length: float = 0.5, v_length: float = 0.45,
                 stroke: float | None = None, gap: float = 0.04, turned: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The ink without its long straight rulings, and the ink removed.

    A horizontal ruling is a run at least ``h_length`` of the crop width (an underline, a
    table line, a box's top or bottom); a vertical one, at least ``v_length`` of its height
    (a column ruling, a box side). A digit's straight strokes are a fraction of those (a 1 in
    a field of two digits fills ~60% of a tight crop's height: vertical rulings must be longer
    or lie at the crop's side, :func:`_edge_band`). Where a stroke crosses a ruling, the
    ruling's rows are kept under the stroke: ink both above and below the band within a
    stroke's width bridges it again, so a 4 written through its underline stays one 4.
    ``turned``: also find rulings turned by up to 6 degrees (a box cut from a skewed scan);
    off where the caller has squared the picture to its rulings already.
    """
    if not mask.any():
        return mask.copy(), np.zeros_like(mask)
    sw = stroke if stroke is not None else stroke_width(mask)
    out = _remove_straight(mask, h_length, v_length, sw, gap)
    slope = _turned_ruling(mask, h_length, gap) if turned else None
    if slope is not None:
        # A ruling turned by a degree or two is a staircase no straight run covers: turn the
        # ink so it lies straight, take the rulings out there, and turn what went back.
        turn = cv2.getRotationMatrix2D((mask.shape[1] / 2.0, mask.shape[0] / 2.0), float(np.degrees(np.arctan(slope))), 1.0)
        size = (mask.shape[1], mask.shape[0])
        straight = np.asarray(cv2.warpAffine(as_uint8(mask), turn, size, flags=cv2.INTER_NEAREST)) > 0
        gone = straight & ~_remove_straight(straight, h_length, v_length, sw, gap)
        back = cv2.warpAffine(as_uint8(gone), cv2.invertAffineTransform(turn), size, flags=cv2.INTER_NEAREST)
        out &= ~(cv2.dilate(back, np.ones((3, 3), np.uint8)) > 0)
    out &= ~_fringes(out, mask & ~out, sw)
    return out, mask & ~out


def _remove_straight(mask: np.ndarray, h_length: float, v_length: float, sw: float, gap: float,
                     side: float = 0.2, side_heights: float = 0.5, end: float = SIDE_END) -> np.ndarray:
    """:func:`remove_lines` for rulings that run exactly along the rows or the columns.

    A vertical run of ``v_length`` of the height is a ruling at the crop's sides: within
    ``side`` of its width of either edge, and no more than ``side_heights`` of its height. Why
    the second bound: in a long amount's crop a fifth of the width holds two or three digits,
    and a straight 1 among them is as tall as a worn ruling's piece. And the run must come
    within ``end`` of the height of the top or the bottom, as a ruling cut by the crop does: the
    1 that starts a number floats between them (1669 read 669, ok, without this)."""
    h, w = mask.shape
    gh, gv = int(gap * w), int(gap * h)
    horiz = straight_runs(mask, (max(3, int(h_length * w)),), True, gh)[0] if w >= 8 else np.zeros_like(mask)
    if h >= 8:
        # A vertical run shorter than 75% of the height is a ruling only at the crop's sides.
        lengths = (max(3, int(v_length * h)), max(3, int(0.75 * h)))
        if horiz.any():  # a box's sides may be short beside the crop, but it has a top and bottom
            vert, tall, short = straight_runs(mask, lengths + (max(3, int(BOX_SIDE * h)),), False, gv)
            tall |= _box_sides(short, horiz)
        else:
            vert, tall = straight_runs(mask, lengths, False, gv)
        side_runs = _reaching_an_end(vert & _edge_band(w, min(side, side_heights * h / w))[None, :], end)
        vert = side_runs | tall
    else:
        vert = np.zeros_like(mask)
    lines = horiz | vert
    if not lines.any():
        return mask.copy()
    rest = mask & ~lines
    # Bridge strokes across the removed bands: close the remaining ink across each band.
    reach = max(3, int(round(2 * sw)) | 1)
    v_close = cv2.morphologyEx(as_uint8(rest), cv2.MORPH_CLOSE,
                               cv2.getStructuringElement(cv2.MORPH_RECT, (1, reach + _thickness(horiz))))
    h_close = cv2.morphologyEx(as_uint8(rest), cv2.MORPH_CLOSE,
                               cv2.getStructuringElement(cv2.MORPH_RECT, (reach + _thickness(vert), 1)))
    kept = (horiz & (v_close > 0)) | (vert & (h_close > 0))
    kept &= _crossing(rest, horiz, vert)
    return rest | (kept & mask)


def _turned_ruling(mask: np.ndarray, h_length: float, gap: float,
                   least: float = 0.005, most: float = 0.1) -> float | None:
    """The slope of the longest straight line in ``mask`` as long as a horizontal ruling
    (``h_length`` of the width, breaks of up to ``gap`` of it) and turned by ``least`` to
    ``most`` (0.3 to 6 degrees): a ruling the straight runs missed. None when there is none."""
    h, w = mask.shape
    length = max(8, int(h_length * w))
    n, labels, stats = components(mask)
    wide = np.flatnonzero(stats[1:, cv2.CC_STAT_WIDTH] >= length) + 1
    if not wide.size:  # no mark as wide as a ruling: nothing to look for
        return None
    lookup = np.zeros(n, np.uint8)
    lookup[wide] = 255
    found = cv2.HoughLinesP(lookup[labels], 1, np.pi / 360, threshold=int(0.8 * length), minLineLength=length,
                            maxLineGap=max(2, int(gap * w)))
    best: tuple[float, tuple[int, int, int, int]] | None = None
    for x0, y0, x1, y1 in ([] if found is None else found.reshape(-1, 4).tolist()):
        slope = (y1 - y0) / (x1 - x0) if x1 != x0 else np.inf
        run = float(np.hypot(x1 - x0, y1 - y0))
        if abs(slope) <= most and (best is None or run > best[0]):
            best = (run, (x0, y0, x1, y1))
    if best is None:
        return None
    # Hough's angle is a step of half a degree: fit the ink along the line itself, each
    # column's middle row within three of the line (a stroke stuck to it barely tilts the fit).
    x0, y0, x1, y1 = best[1]
    xs = np.arange(min(x0, x1), max(x0, x1) + 1)
    ys = np.rint(y0 + (xs - x0) * (y1 - y0) / (x1 - x0)).astype(int)
    rows = np.clip(ys[None, :] + np.arange(-3, 4)[:, None], 0, h - 1)
    ink = mask[rows, xs[None, :]]
    counts = ink.sum(axis=0)
    seen = counts > 0
    if seen.sum() < 0.5 * len(xs):
        return None
    mids = (ink * rows).sum(axis=0)[seen] / counts[seen]
    slope = float(np.polyfit(xs[seen].astype(float), mids, 1)[0])
    return slope if least <= abs(slope) <= most else None


def _fringes(rest: np.ndarray, removed: np.ndarray, stroke: float, thin: float = 0.4) -> np.ndarray:
    """The marks of ``rest`` that are the frayed edge of a removed ruling: no more than
    ``thin`` pen widths across (rulings run along the rows or the columns, and so do their
    edges) and lying along the ruling (most of their ink within two pixels of it). Why: a
    ruling is removed with one pixel either side; the grey fringe a scanner leaves beyond that
    is a hairline as long as the ruling's stretch beside the writing, and the segmenter would
    read it as a 1 (a box cut out of a form with its side line)."""
    out = np.zeros_like(rest)
    if not removed.any() or not rest.any():
        return out
    n, labels, stats = components(rest)
    across = np.minimum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    hair = np.flatnonzero(across[1:] <= max(1.0, thin * stroke)) + 1
    if not hair.size:
        return out
    near = cv2.dilate(as_uint8(removed), np.ones((5, 5), np.uint8)) > 0
    for i in hair:
        x, y, w, h = (int(v) for v in stats[i, :4])
        box = labels[y : y + h, x : x + w] == i
        if near[y : y + h, x : x + w][box].mean() >= 0.8:
            out[y : y + h, x : x + w] |= box
    return out


def _box_sides(vert: np.ndarray, horiz: np.ndarray) -> np.ndarray:
    """The vertical runs of ``vert`` that turn into a horizontal ruling at both ends, as a
    box's sides do at its corners, wherever the box lies in the crop (a capture tool's crop
    with a wide margin holds the whole box). A ruling that goes on past the run on both sides
    is crossed, not turned into: a 1 written across squared paper, or from the top of its box
    to the bottom, stays."""
    if not vert.any() or not horiz.any():
        return np.zeros_like(vert)
    n, labels, stats = components(vert)
    side = np.zeros(n, bool)
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        side[i] = _corner(horiz, y, x, x + w) and _corner(horiz, y + h - 1, x, x + w)
    return side[labels]


def _corner(horiz: np.ndarray, row: int, x0: int, x1: int, reach: int = 6) -> bool:
    """Whether a horizontal ruling near ``row`` runs off to one side only of columns x0..x1."""
    band = horiz[max(0, row - 2) : row + 3]
    left = band[:, max(0, x0 - reach) : max(0, x0 - 2)].any()
    right = band[:, x1 + 2 : x1 + reach].any()
    return bool(left) != bool(right)


def _thickness(lines: np.ndarray) -> int:
    """The widest ruling's thickness (the longest run across it), 0 without rulings."""
    if not lines.any():
        return 0
    dist = cv2.distanceTransform(as_uint8(lines), cv2.DIST_L2, 3)
    return int(np.ceil(2 * dist.max()))


def _crossing(rest: np.ndarray, horiz: np.ndarray, vert: np.ndarray) -> np.ndarray:
    """Where a bridged band pixel belongs to a stroke: only columns (rows) where the ink left
    touches the band on both sides count, so a ruling is never rebuilt along its length."""
    out = np.zeros_like(rest)
    if horiz.any():
        up = np.zeros_like(rest)
        up[1:] = rest[:-1]
        down = np.zeros_like(rest)
        down[:-1] = rest[1:]
        near = cv2.dilate(as_uint8(horiz), np.ones((5, 1), np.uint8)) > 0
        cols = ((up | down) & near & rest).any(axis=0)
        out |= horiz & cols[None, :]
    if vert.any():
        near = cv2.dilate(as_uint8(vert), np.ones((1, 5), np.uint8)) > 0
        rows = (near & rest).any(axis=1)
        out |= vert & rows[:, None]
    return out


def _reaching_an_end(runs: np.ndarray, end: float) -> np.ndarray:
    """The vertical runs that come within ``end`` of the crop's height of its top or bottom."""
    if not runs.any():
        return runs
    h = runs.shape[0]
    n, labels, stats = components(runs)
    reach = max(1, int(round(end * h)))
    top, bottom = stats[:, cv2.CC_STAT_TOP], stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT]
    keep = (top <= reach) | (bottom >= h - reach)
    keep[0] = False
    return keep.take(labels.astype(np.intp))


def _edge_band(size: int, share: float) -> np.ndarray:
    """A boolean profile that is True within ``share`` of either end."""
    idx = np.arange(size)
    return (idx < share * size) | (idx >= (1.0 - share) * size)


def faint_ruling_pieces(mask: np.ndarray, flat: np.ndarray, stroke: float, tilt: float = 0.12, thin: float = 2.0,
                        marks: tuple[int, np.ndarray, np.ndarray] | None = None, reach: float = 1.0,
                        on_line: float = 0.6, contrast: float = 0.2, least: float = 6.0) -> np.ndarray:
    """The marks of ``mask`` that are the dark stretch of a ruling faint elsewhere: thin (at
    most ``thin`` pen widths across), straight, upright within ``tilt`` (x per row), and on a
    line that goes on in the grey ``flat`` (paper light) beyond their ends.

    Why: a column ruling, or the crease where a register's page meets the binding, is often
    too faint to be ink except for a stretch beside the number; that stretch is as tall as a
    digit and as straight as a 1, and both readers take it for one ("3" read 13, sure). A
    written 1 ends where the pen lifted. Beyond each end of the mark, up to ``reach`` of its
    height, each row is looked at across the line: darker on it than a few pens' widths
    either side by ``contrast`` of the mark's own darkness (and at least ``least`` grey
    levels) counts as line. A mark with ``on_line`` of those rows on the line, and far fewer on
    two parallel lines beside it (paper), is a ruling's piece. ``marks``: the mask's
    :func:`~formreader.imaging.clean.components`, when the caller has them.
    """
    out = np.zeros_like(mask)
    if not mask.any():
        return out
    n, labels, stats = components(mask) if marks is None else marks
    dark: np.ndarray | None = None
    hs, ws, areas = stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_AREA]
    # From the boxes alone: tall, no wider than a thin line tilted that far, no more ink than it.
    maybe = (hs >= max(8.0, 4.0 * stroke)) & (ws <= thin * stroke + tilt * hs + 2) & (areas <= thin * stroke * hs)
    maybe[0] = False
    for i in np.flatnonzero(maybe):
        x, y, w, h = (int(v) for v in stats[i, :4])
        line = _straight_line(labels[y : y + h, x : x + w] == i, stroke, tilt, thin)
        if line is None:
            continue
        a, b = line[0] + x - line[1] * y, line[1]  # column = a + b * row, in the crop
        dark = 255.0 - flat.astype(np.float32) if dark is None else dark
        if _line_goes_on(dark, a, b, y, y + h, stroke, reach, on_line, contrast, least):
            out[y : y + h, x : x + w] |= labels[y : y + h, x : x + w] == i
    return out


def _straight_line(mark: np.ndarray, stroke: float, tilt: float, thin: float) -> tuple[float, float] | None:
    """(column at row 0, columns per row) of a thin straight upright ``mark``; None otherwise."""
    rows = mark.sum(axis=1)
    if (rows == 0).any() or np.median(rows) > thin * stroke:
        return None
    ys = np.arange(mark.shape[0], dtype=np.float64)
    centre = (mark * np.arange(mark.shape[1])[None, :]).sum(axis=1) / rows
    dy = ys - ys.mean()
    b = float((dy * (centre - centre.mean())).sum() / (dy * dy).sum())
    a = float(centre.mean() - b * ys.mean())
    if abs(b) > tilt or np.abs(centre - (a + b * ys)).max() > max(1.5, 0.75 * stroke):
        return None
    return float(a), float(b)


def _line_goes_on(dark: np.ndarray, a: float, b: float, y0: int, y1: int, stroke: float, reach: float,
                  on_line: float, contrast: float, least: float) -> bool:
    """Whether the line column = a + b * row, inked from row y0 to y1, goes on beyond them in
    ``dark`` (see :func:`faint_ruling_pieces`)."""
    h, w = dark.shape
    span = int(round(reach * (y1 - y0)))
    gap = int(round(stroke)) + 1
    beyond = np.r_[np.arange(max(0, y0 - span), max(0, y0 - gap)), np.arange(min(h, y1 + gap), min(h, y1 + span))]
    if beyond.size < 0.5 * (y1 - y0):
        return False  # too little crop beyond the mark to tell
    flank = int(round(2 + stroke))
    beside = 4 * stroke + 5

    def ridge(rows: np.ndarray, shift: float) -> np.ndarray:
        # Darkness on the line less the paper's a few pens' widths beside it (on either side
        # that lies in the crop: a ruling at the crop's edge has paper on one side only).
        cols = np.rint(a + b * rows + shift).astype(int)
        ok = (cols >= 1) & (cols + 1 < w)
        rows, cols = rows[ok], cols[ok]
        on = np.max([dark[rows, cols + d] for d in (-1, 0, 1)], axis=0)
        side = np.full((6, rows.size), np.inf, np.float32)
        for k, off in enumerate(s * (flank + d) for s in (-1, 1) for d in (1, 2, 3)):
            inside = (cols + off >= 0) & (cols + off < w)
            side[k, inside] = dark[rows[inside], cols[inside] + off]
        paper = side.min(axis=0)  # the lightest beside: a stroke on one side does not count
        seen = np.isfinite(paper)
        return on[seen] - paper[seen]

    own = ridge(np.arange(y0, y1), 0.0)
    if not own.size:
        return False
    level = max(least, contrast * float(np.median(own)))
    along = ridge(beyond, 0.0)
    if along.size < 0.5 * beyond.size or np.mean(along >= level) < on_line:
        return False
    parallels = [ridge(beyond, s) for s in (-beside, beside)]
    return all(p.size == 0 or np.mean(p >= level) < 0.5 * on_line for p in parallels)
