"""Where the handwriting is: drawn boxes and comb fields, or free-standing numbers.

A form tells the writer where to write with ruled boxes, so on a page that has boxes only ink
inside them is read; the printed labels and instructions around them are never fields. A page
without boxes (a note, a ledger) is read by grouping digit-sized marks into numbers by line and
spacing.

All sizes are fractions of the page or of the box at hand, so the same code serves 100-300 dpi.

Boxes and comb cells are found by :mod:`formreader.imaging.boxes` and
:mod:`formreader.imaging.combs`, and their rulings erased by :mod:`formreader.imaging.rulings`;
this module crops the ink of each box, groups free-standing marks into numbers, and chooses
between the two.
"""

from __future__ import annotations

import cv2
import numpy as np

from formreader.imaging.boxes import find_boxes
from formreader.imaging.clean import components
from formreader.imaging.regions import Box, FieldRegion, reading_order
from formreader.imaging.rulings import _keep_inside, remove_rulings
from formreader.imaging.stats import median


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
