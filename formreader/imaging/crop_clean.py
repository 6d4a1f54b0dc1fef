"""Clean-up of a field image: one cropped number, as a capture tool or a cheque scanner cuts it.

A crop is not a page. Its number fills a large share of it, and its edges carry what the cut
went through: the black of the scanner bed beside the paper, a table's ruling, the underline
the number was written on, a neighbour's stroke, a line of print. Every stage here is a pure
function (array in, array out) whose sizes are shares of the crop or of the strokes it holds,
never pixels of one source, so a 40 px box and a 600 px cheque amount go through the same code.

Stages, in the order :func:`clean_field` runs them: :func:`paper_light` (either polarity),
:func:`flatten` (the paper's brightness divided out: shadows, stains, the scanner bed),
:func:`ink_mask` (threshold on the flattened grey; its floor lower on a faded scan, :func:`crop_contrast`),
:func:`~formreader.imaging.crop_rulings.remove_lines` (long straight rulings,
keeping the strokes that cross them), :func:`~formreader.imaging.crop_rulings.faint_ruling_pieces`
(a ruling's stretch dark enough to be ink where the rest of it is not),
:func:`drop_edge_marks` (ink cut by the crop's edge).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from formreader.imaging.clean import as_uint8, components, histogram
from formreader.imaging.crop_rulings import faint_ruling_pieces, remove_lines, stroke_width
from formreader.imaging.geometry import MaskRect, SourceRect

# Crops are brought to this height before cleaning (up or down): digits then measure 20-120
# px, the size the segmenter and the MNIST normalisation are made for, and a 2,000 px scan of
# one amount costs no more than a 150 px one.
WORK_HEIGHT = 160
MAX_WORK_WIDTH = 1600
# A crop whose grey levels span less than this holds no writing (an empty or all-black crop).
MIN_CONTRAST = 24
# The least darkness below the paper taken as ink, as a share of the paper level, in a crop
# whose range reaches black (:func:`crop_contrast` scales it).
MIN_INK_CONTRAST = 0.1
# A crop whose darkest pixels lie less than this share of the paper level below it is a faded
# scan: its ink floor shrinks with its range. Darker than that, any pen on any paper keeps the
# floor as it is.
FADED = 0.5


@dataclass(frozen=True)
class CleanField:
    """A field image ready for segmentation, and how to get back to the source pixels."""

    gray: np.ndarray  # uint8, paper light, flattened, working size
    mask: np.ndarray  # bool ink of the writing, rulings and edge marks removed
    others: np.ndarray  # bool ink that was removed (rulings, margins, print at the edges)
    scale: float  # working pixels per source pixel
    origin: tuple[int, int] = (0, 0)  # where the cleaned part begins in the source (x, y)
    # Slant taken out (:func:`shear_rows`): working x = x_before + pad - shear * (y - centre).
    shear: float = 0.0
    shear_pad: int = 0
    shear_centre: float = 0.0
    # The crop's own range (:func:`crop_contrast`); a closer look at part of the crop keeps it.
    contrast: float = 1.0
    inverted: bool = False  # read as white on black (:func:`paper_light`)

    def to_source(self, rect: MaskRect, size: tuple[int, int]) -> SourceRect:
        """A working-pixel rectangle as the source-pixel rectangle that holds it, within ``size``."""
        x, y, w, h = rect
        xs = []
        for cy in (y, y + h):
            back = self.shear * (cy - self.shear_centre) - self.shear_pad
            xs += [x + back, x + w + back]
        s, (ox, oy) = self.scale, self.origin
        x0, x1 = ox + int(np.floor(min(xs) / s)), ox + int(np.ceil(max(xs) / s))
        y0, y1 = oy + int(np.floor(y / s)), oy + int(np.ceil((y + h) / s))
        x0, y0 = max(0, min(x0, size[0])), max(0, min(y0, size[1]))
        return (x0, y0, max(0, min(x1, size[0]) - x0), max(0, min(y1, size[1]) - y0))


def work_size(shape: tuple[int, ...], height: int = WORK_HEIGHT, max_width: int = MAX_WORK_WIDTH) -> float:
    """Scale factor that brings a crop to ``height`` rows (its width at most ``max_width``)."""
    h, w = shape[:2]
    if h == 0 or w == 0:
        return 1.0
    return min(height / h, max_width / w)


def paper_light(gray: np.ndarray, clear: float = 0.1, stroke: float = 0.03,
                floor: float = 0.1) -> tuple[np.ndarray, bool]:
    """The crop with light paper and dark ink, and whether it had to be inverted.

    Paper is the larger share of a crop: a crop whose share of pixels on the dark side of Otsu's
    threshold is more than ``clear`` away from half is inverted when that share is above half.
    Nearer half (a register crop's scanner bed takes up to ~58% of it), a second cue is weighed
    alike: writing is thin, so the share of the crop's thin contrast (structures narrower than
    ``stroke`` of its height, at least ``floor`` of its grey range deep, noise being shallower)
    that is light on dark (a white top-hat against a black one) is added, and the crop is
    inverted when the two shares add up to more than one. The shares of the inverted crop add
    up to two minus those of the crop, so exactly one polarity comes out paper-light. Why the
    second cue: on the development crops and their negatives, the dark share alone misjudges
    23% of the negatives; both cues misjudge 4 of 4,812 either way (and :func:`clean_field`
    tries the other polarity where the chosen one holds no ink), the photo reader's
    :func:`~formreader.imaging.photo.ink_is_dark` 42.
    """
    if gray.size == 0 or int(gray.max()) == int(gray.min()):
        return gray, False
    t, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = float(np.count_nonzero(gray <= t)) / gray.size
    if abs(dark - 0.5) > clear:
        invert = dark > 0.5
    else:
        invert = dark + _light_thin_share(gray, stroke, floor) > 1.0
    return (255 - gray, True) if invert else (gray, False)


def _light_thin_share(gray: np.ndarray, stroke: float, floor: float) -> float:
    """Of the crop's thin contrast (top-hats narrower than ``stroke`` of its height and deeper
    than ``floor`` of its grey range), the share that is light on dark; 0.5 when there is none."""
    k = _odd(stroke * gray.shape[0])
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    least = floor * (int(gray.max()) - int(gray.min()))
    sums = []
    for op in (cv2.MORPH_TOPHAT, cv2.MORPH_BLACKHAT):
        hat = cv2.morphologyEx(gray, op, kernel, borderType=cv2.BORDER_REPLICATE)
        sums.append(float(hat[hat > least].sum(dtype=np.float64)))
    return sums[0] / (sums[0] + sums[1]) if sums[0] + sums[1] > 0 else 0.5


def _rank(gray: np.ndarray, q: float, above: int = -1, hist: np.ndarray | None = None) -> float:
    """The grey level at quantile ``q`` (by rank) of a uint8 image's pixels brighter than
    ``above``, from its histogram (no sort; ``hist``: :func:`~formreader.imaging.clean.histogram`
    of ``gray``, when the caller has it); 255 when there are none."""
    hist = histogram(gray) if hist is None else hist.copy()
    hist[: above + 1] = 0
    total = float(hist.sum())
    if total == 0:
        return 255.0
    return float(np.searchsorted(np.cumsum(hist), q * total))


def _odd(n: float) -> int:
    n = max(3, int(round(n)))
    return n if n % 2 else n + 1


def flatten(gray: np.ndarray, window: float = 0.12, off_paper: float = 0.6, blob_window: float = 3.0,
            blob_ratio: float = 0.6) -> np.ndarray:
    """The crop divided by its paper brightness: paper at 255 wherever it is, ink below.

    The paper level comes from a grey closing (a max filter, then a min filter) over a window
    of ``window`` of the crop height, wider than any pen stroke and narrower than a digit: it
    replaces the strokes by the paper around them. A dark area wider than the window (the
    scanner bed beside the page, a stain, a shadow) is its own "paper" and comes out white, so
    it never reaches the threshold as ink. Where that paper is darker than ``off_paper`` of
    the crop's usual paper level, the crop is off the paper, and left blank.

    A bold pen on a tight crop draws strokes, and fills loops, wider than the window. Such a
    patch is as dark as ink, where a stain or a shadow is paler, and a window ``blob_window``
    times as wide sees paper around it: where the narrow window's paper is darker than
    ``blob_ratio`` of the wide window's, the wide window's paper is used, and the patch stays ink.
    """
    if gray.size == 0:
        return gray
    k = _odd(window * gray.shape[0])
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel, borderType=cv2.BORDER_REPLICATE)
    # Only a crop with a patch that dark away from its edges can hold such a blob (most have none).
    if blob_window > 1 and _inner(paper < blob_ratio * float(gray.max())).any():
        big = _odd(blob_window * k)
        wide = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (big, big)),
                                borderType=cv2.BORDER_REPLICATE)
        blob = _inner(paper.astype(np.float32) < blob_ratio * wide.astype(np.float32))
        if blob.any():
            blob = cv2.dilate(as_uint8(blob), kernel) > 0
            paper = np.where(blob, wide, paper)
    paper = cv2.blur(paper, (k, k))
    paper = np.maximum(paper, gray)
    out = gray.astype(np.float32) * 255.0 / np.maximum(paper.astype(np.float32), 1.0)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    # Off the paper: where the "paper" is far darker than the crop's own paper (the scanner
    # bed, a black border), dividing would blow its noise up into ink. Such areas, and a
    # window's width around them (their edge), are blank.
    level = _rank(paper, 0.9)
    off = paper < off_paper * level
    if off.any():
        off = cv2.dilate(as_uint8(off), kernel) > 0
        out[off] = 255
    return out


def _inner(mask: np.ndarray) -> np.ndarray:
    """The marks of ``mask`` that do not touch the image's edge."""
    if not mask.any():
        return mask
    n, labels, stats = components(mask)
    x, y, w, h = (stats[:, i] for i in range(4))
    keep = (x > 0) & (y > 0) & (x + w < mask.shape[1]) & (y + h < mask.shape[0])
    keep[0] = False
    return keep.take(labels.astype(np.intp))


def crop_contrast(gray: np.ndarray, paper: float = 0.9, darkest: float = 0.001, least: float = 0.05) -> float:
    """How far a paper-light crop's darkest pixels (its ``darkest`` quantile) lie below its paper
    (its ``paper`` quantile), as a share of the paper's level: ~1 for black ink or a black scanner
    bed on white, ~0.3 for a faded or low-contrast scan whose blackest is a light grey; at least
    ``least``.

    Why: :func:`ink_mask`'s floor is a share of the paper level. Set for ink that reaches black,
    it would lie below every stroke of a faded scan (the low-contrast row of
    ``benchmarks/bench_field_robustness.py``: grey levels 170-255), so :func:`clean_field`
    lowers it on a crop whose contrast is under FADED. Only there: a pale
    pen on a crop without a scanner bed is not a faded scan, and a lower floor lets its paper
    grain in as marks.
    """
    if gray.size == 0:
        return 1.0
    hist = histogram(gray)
    level = _rank(gray, paper, hist=hist)
    return float(min(1.0, max(least, (level - _rank(gray, darkest, hist=hist)) / max(level, 1.0))))


def ink_mask(flat: np.ndarray, min_contrast: float = MIN_INK_CONTRAST, noise_sigmas: float = 4.0,
             strong: float = 1.6, own_level: float = 0.4, own_reach: float = 0.75) -> np.ndarray:
    """Ink of a flattened crop, by hysteresis: pixels darker than the paper by more than its
    noise (``noise_sigmas`` robust standard deviations, at least ``min_contrast`` of the paper
    level) that belong to a mark with some pixels ``strong`` times as dark as that.

    Why not Otsu: a field is nearly all paper, and its dark pixels mix a black ruling with a
    faint pencil number; any split between classes loses the number. The paper's own noise is
    what tells ink from paper, and the hysteresis keeps a faint stroke whole while JPEG noise,
    which never gets strong, goes. Each mark is then cut at ``own_level`` of its own
    darkness, or of its stretch within ``own_reach`` stroke widths where that is paler
    (:func:`_own_level`).
    """
    if flat.size == 0:
        return np.zeros(flat.shape, bool)
    dark = 255.0 - flat.astype(np.float32)
    # The paper's spread: the median darkness of the pixels nearer paper than black.
    mad = 255.0 - _rank(flat, 0.5, above=127)
    low = max(255.0 * min_contrast, noise_sigmas * 1.4826 * mad)
    mask = hysteresis(dark, low, strong * low)
    return _own_level(mask, dark, own_level, own_reach * stroke_width(mask))


def hysteresis(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels above ``low`` in 4-connected regions that reach above ``high``: what
    ``skimage.filters.apply_hysteresis_threshold`` gives, with OpenCV's labelling (~4x sooner
    on a crop)."""
    weak = image > low
    if not weak.any():
        return weak
    n, labels = cv2.connectedComponents(as_uint8(weak), connectivity=4, ltype=cv2.CV_32S)
    keep = np.zeros(n, bool)
    keep[labels[image > high]] = True
    keep[0] = False
    return keep[labels]


def _own_level(mask: np.ndarray, dark: np.ndarray, share: float, reach: float) -> np.ndarray:
    """Each mark of ``mask`` thresholded again at ``share`` of its own darkness (its 90th
    percentile): the noise-level threshold fits a faint pencil stroke, but takes in a dark
    pen's blurred edge until the loops of a 6 or an 8 fill in.

    Where a stretch of the mark is paler than that (the darkest ink within ``reach`` pixels
    is), the stretch is cut at ``share`` of its own darkness instead: a pen that ran dry in
    the middle of a 5, or a light hairline joining two heavy strokes, stays whole, while the
    blurred edge of a dark stroke, which has the stroke's core within reach, is cut as before.
    """
    if not mask.any():
        return mask.copy()
    _, labels = cv2.connectedComponents(as_uint8(mask), connectivity=8, ltype=cv2.CV_32S)  # no stats needed
    r = max(1, int(round(reach)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    near = cv2.dilate(np.where(mask, dark, np.float32(0)), disc)  # darkest ink within reach
    # Each mark's 90th percentile by rank, all marks at once: its values sorted within the mark
    # (marks 1..n-1, every one with pixels; 0, the background, has none).
    marks, vals = labels[mask], dark[mask]
    counts = np.bincount(marks)[1:]
    starts = np.cumsum(counts) - counts
    level = np.concatenate((np.zeros(1, vals.dtype), vals[np.lexsort((vals, marks))][starts + (counts - 1) * 9 // 10]))
    out = mask.copy()
    out[mask] = vals >= share * np.minimum(level[marks], near[mask])
    return out


def drop_edge_marks(mask: np.ndarray, reach: float = 0.5,
                    marks: tuple[int, np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ink without the marks that the crop's edge cut through, and those marks.

    A mark touching an edge is kept when it reaches well into the crop (past ``reach`` of the
    way to its centre, as a digit of a tight crop does) and is dropped otherwise: the tail
    of a neighbour's number, the end of a ruling, a letter of the print below. ``marks``: the
    mask's :func:`~formreader.imaging.clean.components`, when the caller has them.
    """
    h, w = mask.shape
    if not mask.any():
        return mask.copy(), np.zeros_like(mask)
    n, labels, stats = components(mask) if marks is None else marks
    drop = np.zeros(n, bool)
    for i in range(1, n):
        x, y, cw, ch = (int(v) for v in stats[i, :4])
        touches_x = x == 0 or x + cw >= w
        touches_y = y == 0 or y + ch >= h
        if not (touches_x or touches_y):
            continue
        # How far the mark reaches towards the centre, as a share of the half-size, per axis.
        cx0, cx1 = x / w, (x + cw) / w
        cy0, cy1 = y / h, (y + ch) / h
        deep_x = min(cx1, 1 - cx0) if not (x == 0 and x + cw >= w) else 1.0
        deep_y = min(cy1, 1 - cy0) if not (y == 0 and y + ch >= h) else 1.0
        inward = (deep_x if touches_x else 1.0, deep_y if touches_y else 1.0)
        if min(inward) < reach * 0.5:
            drop[i] = True
    dropped = drop.take(labels.astype(np.intp))
    return mask & ~dropped, mask & dropped


def clean_field(gray: np.ndarray, height: int = WORK_HEIGHT, contrast: float | None = None,
                inverted: bool | None = None) -> CleanField:
    """A field image (uint8 grey, either polarity) brought to ``height`` rows and cleaned.

    ``contrast``: the :func:`crop_contrast` the ink threshold scales with; by default the
    crop's own. ``inverted``: whether the crop is white on black; by default :func:`paper_light`
    tells, and where the polarity it picks holds no ink at all, the other one is tried (a
    positive whose scanner bed outweighs its paper). A closer look at part of a crop passes the
    whole crop's: the part may hold no scanner bed or black ruling, and alone would tell a black
    pen from a faded scan, or a negative from a positive, less well.
    """
    gray = np.ascontiguousarray(gray, np.uint8)
    if gray.size == 0:
        blank = np.zeros(gray.shape, bool)
        return CleanField(gray, blank, blank, 1.0)
    scale = work_size(gray.shape, height)
    h, w = gray.shape
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    work = cv2.resize(gray, size, interpolation=interp) if size != (w, h) else gray
    if int(work.max()) - int(work.min()) < MIN_CONTRAST:  # one grey: nothing written
        blank = np.zeros(work.shape, bool)
        return CleanField(np.full(work.shape, 255, np.uint8), blank, blank, scale)
    if inverted is not None:
        return _clean(255 - work if inverted else work, scale, contrast, inverted)
    light, flipped = paper_light(work)
    cleaned = _clean(light, scale, contrast, flipped)
    if not cleaned.mask.any():
        other = _clean(255 - light, scale, contrast, not flipped)
        if other.mask.any():
            return other
    return cleaned


def _clean(work: np.ndarray, scale: float, contrast: float | None, inverted: bool) -> CleanField:
    """:func:`clean_field` of a paper-light crop at its working size; ``contrast`` None: its own."""
    flat = flatten(work)
    if contrast is None:
        contrast = crop_contrast(work)
    ink = ink_mask(flat, min_contrast=MIN_INK_CONTRAST * min(1.0, contrast / FADED))
    sw = stroke_width(ink)
    ink = _drop_specks(ink, sw)
    kept, lines = remove_lines(ink, stroke=sw)
    marks: tuple[int, np.ndarray, np.ndarray] | None = components(kept)
    pieces = faint_ruling_pieces(kept, flat, sw, marks=marks)
    if pieces.any():  # rare: the marks are counted again without them
        kept, lines, marks = kept & ~pieces, lines | pieces, None
    kept, edges = drop_edge_marks(kept, marks=marks)
    kept = _drop_specks(kept, sw)
    return CleanField(flat, kept, lines | edges, scale, contrast=contrast, inverted=inverted)


def _drop_specks(mask: np.ndarray, stroke: float, area: float = 1.0) -> np.ndarray:
    """Drop marks smaller than ``area`` squared stroke widths (dust, JPEG noise)."""
    if not mask.any():
        return mask
    n, labels, stats = components(mask)
    keep = stats[:, cv2.CC_STAT_AREA] >= max(2.0, area * stroke * stroke)
    keep[0] = False
    return keep.take(labels.astype(np.intp))


# The most slant taken out of handwriting, as a shear (x per y): ~35 degrees.
MAX_SHEAR = 0.7


def estimate_slant(mask: np.ndarray, min_height: float = 0.0) -> float:
    """The slant of the writing in a mask, as a shear (x change per row, negative when the tops
    lean right): the area-weighted median of its marks' second-moment slants (mu11 / mu02),
    over the marks at least ``min_height`` high, clipped to MAX_SHEAR."""
    n, labels, stats = components(mask)
    slants, weights = [], []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i, :5])
        if h < max(3, min_height):
            continue
        m = cv2.moments(as_uint8(labels[y : y + h, x : x + w] == i), binaryImage=True)
        if m["mu02"] > 0:
            slants.append(m["mu11"] / m["mu02"])
            weights.append(area)
    if not slants:
        return 0.0
    order = np.argsort(slants)
    cum = np.cumsum(np.asarray(weights, float)[order])
    k = float(np.asarray(slants)[order][np.searchsorted(cum, cum[-1] / 2.0)])
    return float(np.clip(k, -MAX_SHEAR, MAX_SHEAR))


def shear_rows(image: np.ndarray, k: float, centre: float, pad: int, fill: int) -> np.ndarray:
    """``image`` with each row moved by ``pad - k * (y - centre)`` columns (wider by 2 * pad):
    slanted writing stood upright. Nearest-neighbour for masks (bool), linear for grey."""
    h, w = image.shape
    m = np.float32([[1, -k, pad + k * centre], [0, 1, 0]])
    src = as_uint8(image) if image.dtype == bool else image
    interp = cv2.INTER_NEAREST if image.dtype == bool else cv2.INTER_LINEAR
    out = cv2.warpAffine(src, m, (w + 2 * pad, h), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    return out.astype(bool) if image.dtype == bool else out
