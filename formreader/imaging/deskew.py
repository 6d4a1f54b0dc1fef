"""The skew of a page, and rotating it upright.

The angle is the one at which the rows of ink are sharpest (text lines and box rulings run
exactly horizontally), searched coarse to fine on pooled copies of the mask and scored exactly
from runs of ink rather than pixel by pixel where that is cheaper.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_SKEW = 15.0  # degrees; more than this is a page fed sideways, not skew


def _pooled(mask: np.ndarray, long_side: int) -> np.ndarray:
    """Downscale a mask keeping any-ink pixels, so thin lines survive."""
    f = max(1, int(np.ceil(max(mask.shape) / long_side)))
    if f == 1:
        return mask
    h, w = mask.shape
    m = mask[: h - h % f, : w - w % f]
    m = m.view(np.uint8) if m.dtype == bool else (m != 0).view(np.uint8)
    # Max over each f x f block = a dilation anchored at the block's corner, sampled every f.
    grown = cv2.dilate(m, np.ones((f, f), np.uint8), anchor=(0, 0), borderType=cv2.BORDER_CONSTANT,
                       borderValue=0)
    return grown[::f, ::f] > 0


def _profile_score(ys: np.ndarray, xs: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Sum of squared row counts of the ink after rotating by each angle: peaks when text
    lines and box lines run exactly horizontally.

    The definition, one pixel at a time: pixel (y, x) falls in row
    ``round(y * cos + x * sin - min)``. :func:`_run_profile_score` computes the same numbers
    from runs of ink, and falls back to this for an angle it cannot settle.
    """
    scores = np.empty(len(angles))
    r = np.empty(ys.shape, np.float64)
    tmp = np.empty(ys.shape, np.float64)
    idx = np.empty(ys.shape, np.int64)
    for i, a in enumerate(np.deg2rad(angles)):
        # In place, the same arithmetic as round(ys * cos + xs * sin - min): no temporaries.
        np.multiply(ys, np.cos(a), out=r)
        np.multiply(xs, np.sin(a), out=tmp)
        r += tmp
        r -= r.min()
        np.round(r, out=r)
        idx[...] = r
        counts = np.bincount(idx, minlength=1).astype(np.float64)
        scores[i] = float(np.dot(counts, counts))
    return scores


def _ink_pixels(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero(mask)`` (rows, columns in row-major order) of a 2-D mask, several times
    faster: numpy finds the flat indices of a bool array quickly, and its 2-D unravelling is
    the slow part."""
    flat = np.flatnonzero(np.asarray(mask, bool))
    ys = flat // mask.shape[1]
    return ys, flat - ys * mask.shape[1]


def _row_runs(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Horizontal runs of ink from pixel coordinates in row-major order (``np.nonzero``): each
    run's row, first and last column, and length, as float64."""
    brk = np.empty(ys.size, bool)
    brk[:1] = True
    np.not_equal(xs[1:], xs[:-1] + 1, out=brk[1:])
    brk[1:] |= ys[1:] != ys[:-1]
    starts = np.flatnonzero(brk)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1:] = ys.size - 1
    f = np.float64
    return ys[starts].astype(f), xs[starts].astype(f), xs[ends].astype(f), (ends - starts + 1).astype(f)


def _run_profile_score(runs: tuple[np.ndarray, ...],
                       ys: np.ndarray, xs: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """:func:`_profile_score`, bit for bit, at a fraction of the cost: ink comes in horizontal
    runs (6-8 pixels on average, hundreds along a ruling), and along a run the row index is
    monotonic, so a run is settled by its two ends plus, where it crosses from one row to the
    next, the exact column of each crossing.

    Every row index is still evaluated with the same floating-point operations as the
    per-pixel definition (``fl(fl(fl(y * cos) + fl(x * sin)) - min)``, rounded half to even); a
    crossing's column is estimated in real arithmetic, then verified (the pixel there is in
    the new row, the one before it in the old). An angle whose crossings do not all verify
    (never seen: only a sine within ~1e-12 of zero could do it) is scored pixel by pixel.
    ``ys``/``xs`` are the pixels the runs were built from. One angle at a time: its arrays
    stay in cache (scoring many angles per numpy call was measured slower).
    """
    ry, rx0, rx1, length = runs
    scores = np.empty(len(angles))
    for i, a in enumerate(np.deg2rad(angles)):
        c, s = np.cos(a), np.sin(a)
        # Negating x and sin flips no bits of x * sin: k then grows with x along every run.
        x0, x1, sp = (rx0, rx1, s) if s >= 0 else (-rx1, -rx0, -s)
        yc = ry * c
        r0 = yc + x0 * sp
        r1 = yc + x1 * sp
        m = min(r0.min(), r1.min())  # the per-pixel minimum: r is monotonic along each run
        k0 = np.rint(r0 - m)
        k1 = np.rint(r1 - m)
        # Each run puts all its pixels in its last row k1, and for every row j it crosses into
        # moves the n pixels before the crossing from row j to row j - 1.
        cross = np.flatnonzero(k1 > k0)
        if cross.size == 0:
            counts = np.bincount(k1.astype(np.intp), weights=length)
        else:
            nb = (k1[cross] - k0[cross]).astype(np.intp)
            q = np.repeat(cross, nb)
            step = np.arange(q.size) - np.repeat(np.cumsum(nb) - nb, nb)
            j = k0[q] + 1.0 + step
            yq, lo, hi = yc[q], x0[q] + 1.0, x1[q]
            first = np.clip(np.ceil((j - 0.5 + m - yq) / sp), lo, hi)
            for _ in range(3):
                at = np.rint((yq + first * sp) - m) >= j
                before = np.rint((yq + (first - 1.0) * sp) - m) >= j
                if at.all() and not before.any():
                    break
                first = np.clip(first + ~at - (at & before), lo, hi)  # one column on or back
            else:
                scores[i] = _profile_score(ys.astype(np.float64), xs.astype(np.float64), angles[i : i + 1])[0]
                continue
            n = first - x0[q]
            counts = np.bincount(np.concatenate([k1, j - 1.0, j]).astype(np.intp),
                                 weights=np.concatenate([length, n, -n]))
        scores[i] = float(np.dot(counts, counts))
    return scores


def _skew_scores(ys: np.ndarray, xs: np.ndarray, runs: tuple[np.ndarray, ...],
                 angles: np.ndarray) -> np.ndarray:
    """:func:`_profile_score` of each angle by whichever of the two exact methods is cheaper.

    Rough costs per angle (nanoseconds, numpy on one core): pixel by pixel 5 per pixel; by runs
    90,000 of call overhead, 10 per run and 25 per crossing, of which a run of L pixels makes
    (L - 1) |sin| on average. Runs win on full-size masks at small angles (the final pass),
    pixels on the small pooled masks swept over +-15 degrees.
    """
    n, r = ys.size, runs[0].size
    run_cost = 90_000.0 + 10.0 * r + 25.0 * (n - r) * np.abs(np.sin(np.deg2rad(angles)))
    by_runs = run_cost < 5.0 * n
    scores = np.empty(len(angles))
    if by_runs.any():
        scores[by_runs] = _run_profile_score(runs, ys, xs, angles[by_runs])
    if not by_runs.all():
        scores[~by_runs] = _profile_score(ys.astype(np.float64), xs.astype(np.float64), angles[~by_runs])
    return scores


def estimate_skew(mask: np.ndarray, max_angle: float = MAX_SKEW) -> float:
    """Angle in degrees (counter-clockwise positive, as ``cv2.getRotationMatrix2D``) that makes
    the page's lines horizontal, by maximising the sharpness of the horizontal projection.

    Coarse-to-fine search on pooled copies of the mask: 1 degree steps over +-max_angle, then
    0.2 degree steps over +-2 degrees around the best, then 0.05 over +-0.4. (Windows of +-5
    steps found the same angle on all 43 pages tried, golden, benchmark and NIST, at 1.75x the
    cost.) 0.0 for a page without ink.
    """
    best, span = 0.0, max_angle
    # Pixels and runs per pooling factor: a small page pools by 1 in several passes.
    pooled: dict[int, tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...] | None]] = {}
    # Three passes, each on a finer copy of the mask around the previous best: the profile's peak
    # is about (1 / width) radians wide, so each pass needs only a few samples.
    for long_side, step in ((600, 1.0), (900, 0.2), (1800, 0.05)):
        f = max(1, int(np.ceil(max(mask.shape) / long_side)))
        if f not in pooled:
            ys, xs = _ink_pixels(_pooled(mask, long_side))
            pooled[f] = (ys, xs, _row_runs(ys, xs) if ys.size >= 50 else None)
        ys, xs, runs = pooled[f]
        if runs is None:
            return 0.0
        angles = np.round(np.arange(best - span, best + span + 1e-9, step), 4)
        angles = angles[np.abs(angles) <= max_angle + 1e-9]
        scores = _skew_scores(ys, xs, runs, angles)
        best = float(angles[int(np.argmax(scores))])
        span = 2 * step  # the peak lies within half a step of the best sample: 4x margin
    angle = best
    # The projection angle that sharpens the profile is the content's own counter-clockwise
    # tilt; rotating by its opposite undoes it.
    return round(-angle, 2) + 0.0


def rotation_matrix(shape: tuple[int, ...], angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """2x3 matrix rotating by ``angle`` degrees about the centre onto a canvas that holds the
    whole rotated page (so no corner of the form is cut off), and that canvas size (w, h)."""
    h, w = shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    new_w = int(np.ceil(h * sin + w * cos))
    new_h = int(np.ceil(h * cos + w * sin))
    m[0, 2] += (new_w - w) / 2.0
    m[1, 2] += (new_h - h) / 2.0
    return m, (new_w, new_h)


def rotate(gray: np.ndarray, angle: float, fill: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Rotate a grayscale page by ``angle`` degrees (expanding the canvas); returns the page and
    the 2x3 matrix mapping input pixels to output pixels."""
    m, size = rotation_matrix(gray.shape, angle)
    out = cv2.warpAffine(gray, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=int(fill))
    return out, m
