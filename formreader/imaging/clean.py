"""Page-level clean-up: working resolution, binarization, deskew and speck removal.

Every function here is pure (array in, array out). Sizes are derived from the page itself (its
pixel dimensions), never from an assumed resolution, so a 100 dpi phone scan and a 300 dpi
flatbed scan go through the same code. The skew is measured and undone by
:mod:`formreader.imaging.deskew`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from formreader.imaging.deskew import estimate_skew, rotate

# Pages whose long side exceeds this are processed at a reduced "working" resolution: digits on
# a 300 dpi letter page are 60-90 px tall, four times more pixels than the 20 px MNIST box needs,
# and every page-level operation (morphology, components) costs in proportion to the pixel count.
WORK_LONG_SIDE = 1700


@dataclass(frozen=True)
class CleanPage:
    """A page ready for field finding, and how to get back to the source pixels.

    ``to_work`` is the 2x3 affine map from source-page pixels to ``mask``/``gray`` pixels
    (downscale, then deskew rotation); ``from_work`` is its inverse.
    """

    gray: np.ndarray  # uint8, working resolution, deskewed
    mask: np.ndarray  # bool, ink True, specks removed
    to_work: np.ndarray
    from_work: np.ndarray
    angle: float  # degrees the source was rotated by to deskew it
    scale: float  # working pixels per source pixel (<= 1)
    method: str  # the binarization actually used


def work_scale(shape: tuple[int, ...], long_side: int = WORK_LONG_SIDE) -> float:
    """Factor to bring a page down to the working resolution (1.0 for small pages).

    Not snapped to an exact 1/k: at 1650 px instead of 1700 one digit of the real NIST form fell
    from 0.993 to 0.899 confidence, below the review threshold. :func:`reduce` gets the speed
    of whole-block reduction without changing the resolution.
    """
    longest = max(shape[:2])
    return min(1.0, long_side / float(longest)) if longest else 1.0


def reduce(gray: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The page brought down to ``scale`` (< 1), and the source-to-result affine matrix.

    Why two steps: OpenCV's area resize is fast only for whole k x k blocks (0.6 ms on a 300
    dpi letter page against 16-27 ms for a factor of 0.515). So the page is first area-reduced
    by the nearest whole k, then resized by the small remaining factor (a 3% enlargement from a
    300 dpi page), which keeps the working resolution, and what is read at it, where it was.
    Bicubic for that last step: bilinear blurred one 8 of the real NIST form from 0.935 to
    0.838 confidence; bicubic reads it at 0.932, and the golden set as before.
    """
    h, w = gray.shape
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    k = int(round(1.0 / scale))
    if k >= 2 and h >= k and w >= k:
        hc, wc = h - h % k, w - w % k  # whole blocks only; at most k - 1 edge rows/columns go
        small = cv2.resize(gray[:hc, :wc], (wc // k, hc // k), interpolation=cv2.INTER_AREA)
        work = cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)
        sx, sy = size[0] / wc, size[1] / hc
    else:
        work = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        sx, sy = size[0] / w, size[1] / h
    return work, np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0]])


def _odd(n: float) -> int:
    n = max(3, int(round(n)))
    return n if n % 2 else n + 1


def _background_small(gray: np.ndarray) -> np.ndarray:
    """The paper brightness at 1/8 scale (see :func:`estimate_background`): all the work of the
    estimate happens here, on 1/64 of the pixels."""
    h, w = gray.shape
    f = 8
    if h >= f and w >= f:
        # Whole 8 x 8 blocks only (the last 0-7 rows and columns left out): OpenCV's fast path,
        # 1.3 ms on a working-resolution page against 5.6 for a factor of 1/8.01.
        gray = gray[: h - h % f, : w - w % f]
    small = cv2.resize(gray, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    k = _odd(max(small.shape) / 40)  # wider than any stroke, narrower than a lighting gradient
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.GaussianBlur(closed, (0, 0), k)


def estimate_background(gray: np.ndarray) -> np.ndarray:
    """Paper brightness at every pixel: ink removed by a closing at 1/8 scale, then smoothed.

    Why a closing: ink is darker than paper and thinner than the structuring element, so a grey
    closing (max then min) replaces it with the surrounding paper level.
    """
    h, w = gray.shape
    return cv2.resize(_background_small(gray), (w, h), interpolation=cv2.INTER_LINEAR)


def histogram(gray: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Grey-level counts (256,) of a uint8 image, or of its pixels where ``mask`` is set,
    float64 (cv2.calcHist is ~4x faster than np.bincount and needs no gather of the masked
    pixels; its float32 counts are exact below 2**24 pixels)."""
    if gray.size < (1 << 24):
        return cv2.calcHist([np.ascontiguousarray(gray)], [0], None if mask is None else as_uint8(mask),
                            [256], [0, 256]).ravel().astype(np.float64)
    values = gray if mask is None else gray[np.asarray(mask, bool)]
    return np.bincount(values.ravel(), minlength=256).astype(np.float64)


def percentiles(gray: np.ndarray, qs: list[float], hist: np.ndarray | None = None) -> list[float]:
    """``np.percentile(gray, qs)`` (linear method, the same float arithmetic) of a uint8 image
    from its histogram: the two order statistics around each virtual index are read off the
    cumulative counts instead of partitioning millions of pixels."""
    if hist is None:
        hist = histogram(gray)
    cum = np.cumsum(hist)
    n = int(round(cum[-1]))
    out = []
    for q in qs:
        v = (n - 1) * (np.float64(q) / 100.0)
        below = np.floor(v)
        lo = int(below)
        hi = min(lo + 1, n - 1)
        a = float(np.searchsorted(cum, lo, side="right"))
        b = float(np.searchsorted(cum, hi, side="right"))
        t = float(v - below)
        diff = b - a
        out.append(b - diff * (1.0 - t) if t >= 0.5 else a + diff * t)
    return out


def lighting_is_uneven(gray: np.ndarray, tolerance: float = 0.15, hist: np.ndarray | None = None) -> bool:
    """True when the paper's brightness varies by more than ``tolerance`` of the ink contrast.

    Otsu's single threshold is right for evenly lit paper (fast, no artefacts in empty areas);
    a shadow or a lighting gradient needs a local threshold. ``hist`` is ``gray``'s histogram
    when the caller already has it.
    """
    small = _background_small(gray)
    (ink,) = percentiles(gray, [1], hist)
    # Bilinear upsampling never leaves the range of the 1/8-scale estimate, so its percentiles
    # lie in [mn, mx]: when even that whole range is within tolerance, the answer is known
    # without building and sorting the full-size background (evenly lit pages, i.e. most).
    mn, mx = float(small.min()), float(small.max())
    if mx - mn <= tolerance * max(mn - float(ink), 1.0):
        return False
    h, w = gray.shape
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    lo, hi = percentiles(bg, [2, 98])
    contrast = max(float(hi) - float(ink), 1.0)
    return (float(hi) - float(lo)) > tolerance * contrast


# Grey levels between the means of Otsu's two classes below which a page holds no ink, only
# paper noise (faint pencil on a 100 dpi JPEG still measures well above this).
MIN_CONTRAST = 32


def _otsu_threshold(gray: np.ndarray) -> float | None:
    """Otsu's threshold, or None when the two classes it finds are paper noise alike."""
    t, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return _otsu_contrast_ok(float(t), histogram(gray))


def _otsu_contrast_ok(t: float, hist: np.ndarray) -> float | None:
    """``t`` when the means of the two classes it splits ``hist`` into differ by MIN_CONTRAST."""
    levels = np.arange(256)
    lo, hi = hist[: int(t) + 1], hist[int(t) + 1 :]
    if lo.sum() == 0 or hi.sum() == 0:
        return None
    m_lo = float((lo * levels[: int(t) + 1]).sum() / lo.sum())
    m_hi = float((hi * levels[int(t) + 1 :]).sum() / hi.sum())
    return float(t) if m_hi - m_lo >= MIN_CONTRAST else None


def otsu(gray: np.ndarray) -> np.ndarray:
    """Global Otsu threshold: ink (dark) -> True. A blank page gives an empty mask."""
    return _otsu(gray, None)


def _otsu(gray: np.ndarray, hist: np.ndarray | None) -> np.ndarray:
    """:func:`otsu` given ``gray``'s histogram, if known. One OpenCV call finds the threshold
    and writes the 0/1 mask (``gray <= t``), so the page is not compared a second time."""
    t, inv = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if _otsu_contrast_ok(float(t), histogram(gray) if hist is None else hist) is None:
        return np.zeros(gray.shape, bool)
    return inv.view(bool)


def sauvola_threshold(gray: np.ndarray, window: int, k: float = 0.2) -> np.ndarray:
    """Sauvola's threshold per pixel, ``m * (1 + k * (s / 128 - 1))`` with ``m`` and ``s`` the
    mean and standard deviation of the ``window`` x ``window`` square around it (mirrored at the
    edges) of an 8-bit image.

    The same float64 numbers as scikit-image's ``threshold_sauvola`` (a test checks it): the
    window sums of 8-bit pixels and their squares are whole numbers, exact in float64 however
    they are added up, and from them the same operations in the same order follow. OpenCV's box
    filter does the sums, so reading needs no scikit-image (and no SciPy).
    """
    pixels = gray.astype(np.float64)
    size, border = (window, window), cv2.BORDER_REFLECT_101
    sums = cv2.boxFilter(pixels, cv2.CV_64F, size, normalize=False, borderType=border)
    squares = cv2.boxFilter(pixels * pixels, cv2.CV_64F, size, normalize=False, borderType=border)
    n = float(window * window)
    m = sums / n
    s = np.sqrt(np.clip(squares / n - m * m, 0, None))
    r = 0.5 * (255.0 - 0.0)
    return m * (1 + k * ((s / r) - 1))


def sauvola(gray: np.ndarray, window: int | None = None, k: float = 0.2) -> np.ndarray:
    """Sauvola local threshold (:func:`sauvola_threshold`), window ~1/40 of the page's long side.

    Paper areas far from any ink fall under Sauvola's threshold now and then (it adapts to the
    noise); a pixel must also be clearly darker than the local paper to count as ink.
    """
    if int(gray.max()) - int(gray.min()) < MIN_CONTRAST:
        return np.zeros(gray.shape, bool)
    window = window or _odd(max(gray.shape) / 40)
    t = sauvola_threshold(gray, window, k)
    bg = estimate_background(gray).astype(np.float32)
    (ink_level,) = percentiles(gray, [0.5])
    clearly_dark = gray.astype(np.float32) < bg - 0.25 * np.maximum(bg - ink_level, 1.0)
    return (gray < t) & clearly_dark


def binarize(gray: np.ndarray, method: str = "auto", hist: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Ink mask of a grayscale page and the method used ("otsu" or "sauvola").

    ``auto`` uses Otsu on evenly lit pages and Sauvola where the paper brightness varies.
    ``hist`` is ``gray``'s histogram when the caller already has it (saves a pass).
    """
    if method == "auto":
        method = "sauvola" if lighting_is_uneven(gray, hist=hist) else "otsu"
    if method == "otsu":
        return _otsu(gray, hist), method
    if method == "sauvola":
        return sauvola(gray), method
    raise ValueError(f"unknown binarization method {method!r}")


def as_uint8(mask: np.ndarray) -> np.ndarray:
    """A 0/1 uint8 image of a mask for OpenCV: a free view of a bool mask, else a copy."""
    if mask.dtype == bool:
        return np.ascontiguousarray(mask).view(np.uint8)
    return mask if mask.dtype == np.uint8 else mask.astype(np.uint8)


def components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a mask: (count incl. background, labels, stats), exactly as
    ``cv2.connectedComponentsWithStats(mask, connectivity=8)`` numbers and measures them.

    Why not that call: with statistics, OpenCV 5's default (Spaghetti) is fast only with
    16-bit labels, and with 32-bit labels costs 2x Grana's BBDT on a page and ~0.1 ms of
    overhead on a small crop. So: 16-bit labels (Spaghetti) whenever the mask cannot hold
    65,000 components (a crop of a field always; a page with fewer runs of ink than that,
    i.e. nearly every page), else 32-bit (BBDT). All of these label in the same raster order.
    """
    n, labels, stats, _ = components_with_centroids(mask)
    return n, labels, stats


def components_with_centroids(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`components` and each component's centroid (float64 x, y), all exactly as
    ``cv2.connectedComponentsWithStats(mask, connectivity=8)`` gives them (labels 16-bit
    where they fit: 50 against 116 us on a field's mask)."""
    m = as_uint8(mask)
    h, w = m.shape[:2]
    most = ((h + 1) // 2) * ((w + 1) // 2)  # 8-connected components cannot be denser
    if most > 65_000:
        most = min(most, _runs(m if mask.dtype == bool else cv2.compare(m, 0, cv2.CMP_NE)))
    if most <= 65_000:
        return cv2.connectedComponentsWithStatsWithAlgorithm(m, 8, cv2.CV_16U, cv2.CCL_DEFAULT)
    return cv2.connectedComponentsWithStatsWithAlgorithm(m, 8, cv2.CV_32S, cv2.CCL_GRANA)


def _runs(m: np.ndarray) -> int:
    """Horizontal runs of ink in a 2-D uint8 mask whose ink pixels all hold one value (0/1 or
    0/255): each component holds one run at least, so this bounds their number, 5-8x below
    the ink pixel count on a page (the real NIST scan: 207,000 ink pixels, 1,103 components)."""
    if m.shape[1] < 2:
        return cv2.countNonZero(m) if m.size else 0
    return cv2.countNonZero(m[:, :1]) + cv2.countNonZero(cv2.compare(m[:, 1:], m[:, :-1], cv2.CMP_GT))


def remove_specks(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Drop connected components smaller than ``min_area`` pixels (scanner dust, JPEG noise)."""
    if min_area <= 1 or not mask.any():
        return mask.astype(bool)
    n, labels, stats = components(mask)
    small = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < min_area) + 1
    if small.size > 2000:  # a very noisy page: one lookup over the whole label image
        keep = stats[:, cv2.CC_STAT_AREA] >= min_area
        keep[0] = False
        return keep.take(labels)
    out = mask.astype(bool, copy=True)
    for i in small:  # a few specks, each a handful of pixels: clear them in their own boxes
        x, y, w, h = (int(v) for v in stats[i, :4])
        sub = out[y : y + h, x : x + w]
        sub[labels[y : y + h, x : x + w] == i] = False
    return out


def speck_area(shape: tuple[int, ...]) -> int:
    """Largest blob treated as dust: a dot of diameter 1/900 of the page's long side."""
    d = max(shape[:2]) / 900.0
    return max(1, int(round(d * d)))


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine ``outer o inner``."""
    a = np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]])
    return a[:2]


def clean_page(gray: np.ndarray, method: str = "auto", deskew: bool = True) -> CleanPage:
    """Working-resolution, deskewed, binarized page with specks removed."""
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 page, got {gray.dtype} {gray.shape}")
    scale = work_scale(gray.shape)
    work = gray
    to_work = np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])
    if scale < 1.0:
        work, to_work = reduce(gray, scale)
    hist = histogram(work)  # one pass over the page serves the light check, Otsu and paper level
    if method == "auto":
        method = "sauvola" if lighting_is_uneven(work, hist=hist) else "otsu"
    mask, method = binarize(work, method, hist)
    angle = 0.0
    if deskew:
        angle = estimate_skew(mask)
        if abs(angle) >= 0.1:
            paper = int(percentiles(work, [90], hist)[0])
            work, rot = rotate(work, angle, fill=paper)
            to_work = _compose(rot, to_work)
            mask, _ = binarize(work, method)
        else:
            angle = 0.0
    mask = remove_specks(mask, speck_area(mask.shape))
    from_work = cv2.invertAffineTransform(to_work)
    return CleanPage(work, mask, to_work, from_work, angle, scale, method)
