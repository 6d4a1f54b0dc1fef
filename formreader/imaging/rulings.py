"""The ruled lines of a form: found on the page as long straight runs of ink, and erased from a
box's crop so that only the handwriting is left, strokes that cross a ruling kept whole.

All sizes are fractions of the page or of the box at hand, so the same code serves 100-300 dpi.
"""

from __future__ import annotations

import cv2
import numpy as np

from formreader.imaging.clean import as_uint8, components
from formreader.imaging.regions import Rect

# Shortest ruling searched for, as a fraction of the page width (horizontal) / height (vertical).
# A box for two digits is ~4% of a letter page wide and ~2.5% of it high; printed and handwritten
# characters have few straight runs longer than half of that.
H_LINE_FRAC = 0.02
V_LINE_FRAC = 0.01


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

    Kept in one piece: the horizontal and vertical bands are cleared by sibling rules, written
    side by side so that they stay alike, each reading the same crop and stroke width.
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
