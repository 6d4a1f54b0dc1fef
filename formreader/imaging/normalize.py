"""Turn one digit's ink into a 28x28 MNIST-style image, the only input the model ever sees.

MNIST was made by fitting each digit into a 20x20 box (aspect ratio kept, anti-aliased) and moving
its centre of mass to the centre of a 28x28 field. Doing exactly that to every crop, and training
on MNIST digits passed through this same function, is what lets a model trained on MNIST read
real scans. Stroke width is also brought into MNIST's range, so that a fine pen scanned at
300 dpi and a marker scanned at 100 dpi look alike to the model.

MNIST digits are also anti-aliased, and a binarized mark is not: where the page has grey levels,
a mark is shaded from them (:func:`field_darkness`, :func:`shade`) before it is normalised, keeping
the binarized shape exactly and adding the edges that thresholding squared off.
"""

from __future__ import annotations

import cv2
import numpy as np

from formreader.imaging.clean import histogram, percentiles

SIZE = 28
BOX = 20
# Stroke width relative to a 20 px box, measured on MNIST test digits (2*area/boundary): the
# 5th-95th percentiles are 1.24-2.92, the median 1.87. Outside [MIN, MAX] we fix the crop.
STROKE_MIN, STROKE_MAX, STROKE_TARGET = 1.2, 3.2, 1.9
# Grey levels between a field's paper and its strokes below which shading says nothing (a
# bilevel scan has 255; JPEG noise on blank paper a few).
MIN_CONTRAST = 20
FRINGE_MAX = 0.49  # a shaded crop's edge stays below the 0.5 that makes a pixel ink
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
_SQUARE = np.ones((3, 3), np.uint8)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a binary mask, as 2 * area / boundary length.

    For a stroke of width w and length L, area ~ w*L and the boundary has ~2*L pixels. Cheap
    (one erosion) and good enough to decide whether a stroke needs thickening or thinning.
    Pixels are counted with cv2.countNonZero (4x sooner than summing on a digit crop, where
    this runs for every crop); a bool mask is used through its 0/1 view, without a copy.
    """
    m = np.ascontiguousarray(mask).view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
    area = cv2.countNonZero(m)
    if area == 0:
        return 0.0
    boundary = area - cv2.countNonZero(cv2.erode(m, _SQUARE, borderValue=0))
    return 2.0 * area / max(boundary, 1)


def _fix_stroke(mask: np.ndarray, scale: float, grey: np.ndarray | None = None) -> np.ndarray | None:
    """Dilate thin strokes / erode thick ones so the width after scaling falls in MNIST's range.

    Returns None when the stroke is already within range (or cannot be thinned safely). With
    ``grey`` (a shaded crop whose pixels >= 0.5 are ``mask``, see :func:`shade`) the same
    steps are taken on the shading (grey dilation/erosion: max/min filters), so its ink and
    its edges move together, and the shaded crop is returned.
    """
    width = stroke_width(mask) * scale  # width in output pixels of the 20 px box
    if STROKE_MIN <= width <= STROKE_MAX:
        return None
    steps = int(round(abs(STROKE_TARGET - width) / scale / 2.0))  # each step changes width by ~2px
    if steps == 0:
        return None
    m = mask.astype(np.uint8)
    if width < STROKE_MIN:
        pad = steps + 1
        if grey is not None:
            padded = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
            return cv2.dilate(padded, _CROSS, iterations=steps)
        padded = cv2.copyMakeBorder(m, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        return cv2.dilate(padded, _CROSS, iterations=steps).astype(bool)
    eroded = cv2.erode(m, _CROSS, iterations=steps, borderValue=0)
    # Thinning must not delete or break the digit: keep the original if it would.
    n_before = cv2.connectedComponents(m, connectivity=8)[0]
    n_after = cv2.connectedComponents(eroded, connectivity=8)[0]
    if eroded.sum() < 0.25 * m.sum() or n_after > n_before:
        return None
    if grey is not None:
        return cv2.erode(grey, _CROSS, iterations=steps, borderValue=0.0)
    return eroded.astype(bool)


def shade(darkness: np.ndarray, ink: np.ndarray, fringe: np.ndarray) -> np.ndarray:
    """A binarized mark with the grey levels it was binarized from: float32 in [0, 1].

    Why: MNIST digits are anti-aliased, and thresholding a digit drawn at scan resolution
    squares its edges off. Measured with a model trained on binarized scans only, on the
    10,000 MNIST test digits drawn 1.5-2x larger: 44-48 errors thresholded, 29-32 kept grey (34 as published).

    ``darkness``: how dark each pixel is, 0 paper to 1 a full stroke. ``ink``: the binarized
    mark. ``fringe``: the pixels around it that may carry its edge (never another mark's ink).
    Ink is kept at 0.5 or more and the fringe below 0.5, so thresholding the result at 0.5
    gives the mark back exactly: its box, size and stroke width are the binary mask's, and only
    the shading is new.
    """
    on, edge = shade_levels(darkness, ink)
    return on + edge * fringe


def shade_levels(darkness: np.ndarray, ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shade`'s grey levels for every pixel of ``ink`` (0 elsewhere), and for every pixel
    that could be a fringe (0 on ``ink``): a field's, computed once for all its candidates."""
    d = np.asarray(darkness, np.float32)
    ink = np.asarray(ink, bool)
    on = np.clip(d, 0.5, 1.0)
    on[~ink] = 0.0
    edge = np.clip(d, 0.0, FRINGE_MAX)
    edge[ink] = 0.0
    return on, edge


def field_darkness(gray: np.ndarray, ink: np.ndarray, others: np.ndarray | None = None) -> np.ndarray | None:
    """How dark each pixel of a field is, float32: 0 at its paper, 1 at its typical stroke.

    The scale is the field's own (paper: the median grey of what is neither writing nor
    ``others``; stroke: the darker quarter of the writing), so a light pen and a dark one shade
    alike. ``gray``: the field's grey pixels (uint8, paper light). ``ink``: its binarized
    writing. ``others``: ink binarized there that is not the writing (rulings, print): dark,
    but nobody's edge, so it is 0 here. None when paper and stroke are less than
    MIN_CONTRAST grey levels apart, or the field has no writing or no paper: nothing to scale by.
    """
    gray = np.ascontiguousarray(gray, np.uint8)
    ink = np.asarray(ink, bool)
    paper_px = ~ink if others is None else ~(ink | others)
    hists = [histogram(gray, m) for m in (paper_px, ink)]
    if hists[0].sum() == 0 or hists[1].sum() == 0:
        return None
    (paper,) = percentiles(gray, [50], hists[0])
    (stroke,) = percentiles(gray, [25], hists[1])
    if paper - stroke < MIN_CONTRAST:
        return None
    # One grey level, one darkness: computed for the 256 levels, then looked up per pixel
    # (cv2.LUT: the same gather as numpy's take, without widening the indices, 2x sooner).
    levels = np.arange(256, dtype=np.uint8)
    dark = cv2.LUT(gray, np.clip((np.float32(paper) - levels) / np.float32(paper - stroke), 0.0, 1.0))
    if others is not None:
        dark[others & ~ink] = 0.0
    return dark


def _as_ink(image: np.ndarray) -> np.ndarray:
    """Float ink in [0, 1] (1 = ink) from a bool mask, uint8 0..255 or float image."""
    if image.dtype == bool:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / 255.0
    return np.clip(image.astype(np.float32), 0.0, 1.0)


def _ink_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The bounding box of a mask's True pixels as slices, None if it has none.

    cv2.boundingRect of the 0/1 view: ~1 us against ~14 us for numpy's any/flatnonzero per
    axis on a digit-sized crop, and the same box.
    """
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(mask).view(np.uint8))
    if w == 0:
        return None
    return slice(y, y + h), slice(x, x + w)


def to_mnist(ink: np.ndarray, fix_stroke: bool = True) -> np.ndarray:
    """Normalise a digit to MNIST format.

    Args:
        ink: 2-D array, ink high: a bool mask, uint8 (0..255) or float (0..1). Any size.
        fix_stroke: bring the stroke width into MNIST's range (of the pixels >= 0.5; a grey
            image is thickened or thinned with them, see :func:`shade`).

    Returns:
        float32 array (28, 28) in [0, 1], white ink on black, longest side 20 px, centre of mass
        within half a pixel of the centre (13.5, 13.5). All zeros if there is no ink.
    """
    if ink.ndim != 2:
        raise ValueError(f"to_mnist expects a 2-D array, got shape {ink.shape}")
    # The scanner's crops are bool masks: cropped and stroke-fixed as masks and turned to float
    # once, which gives the same numbers as going through float, 15 us sooner per crop.
    if ink.dtype == bool:
        mask, grey = ink, None
    else:
        grey = _as_ink(ink)
        mask = grey >= 0.5
    box = _ink_box(mask)
    if box is None:
        return np.zeros((SIZE, SIZE), np.float32)
    mask = mask[box]
    if grey is not None:
        grey = grey[box]
        if np.array_equal(grey, grey.round()):  # only 0 and 1 in the box: a mask after all
            grey = None
    return _fit(mask, grey, fix_stroke)


def to_mnist_shaded(ink: np.ndarray, on: np.ndarray, edge: np.ndarray, fix_stroke: bool = True) -> np.ndarray:
    """``to_mnist(shade(...))`` of one mark given its field's :func:`shade_levels` over the
    mark's pixels (``on``, ``edge``: cut to ``ink``'s shape): the mark's own pixels, and its
    one-pixel fringe (no other mark's ink, where ``edge`` is 0).

    Why: the same numbers as shading the mark's box plus a one-pixel border and normalising
    that, but the border is cut off again by :func:`to_mnist` (it lies outside the ink box),
    and the ink is ``ink`` itself, so neither is computed.
    """
    box = _ink_box(ink)
    if box is None:
        return np.zeros((SIZE, SIZE), np.float32)
    own = np.ascontiguousarray(ink[box]).view(np.uint8)
    # Outside the box the ink is 0, so its dilation inside the box needs nothing beyond it.
    grey = on[box] * own + edge[box] * cv2.dilate(own, _SQUARE)
    binary = np.array_equal(grey, grey.round())  # only 0 and 1: a mask after all (as in to_mnist)
    return _fit(own.view(bool), None if binary else grey, fix_stroke)


def _fit(mask: np.ndarray, grey: np.ndarray | None, fix_stroke: bool) -> np.ndarray:
    """:func:`to_mnist` of a bool mask cropped to its ink box and, unless None, its shading
    over the same box (pixels >= 0.5 exactly the mask's): stroke fixed, scaled into the 20 px
    box and centred by its centre of mass."""
    h, w = mask.shape
    scale = BOX / max(h, w)
    if fix_stroke:
        fixed = _fix_stroke(mask, scale, grey)
        if fixed is not None:
            if grey is None:
                mask = fixed[_ink_box(fixed)]
            else:  # a dilation keeps every ink pixel, an erosion keeps a quarter at least
                grey = fixed[_ink_box(fixed >= 0.5)]
                mask = grey >= 0.5
            h, w = mask.shape
            scale = BOX / max(h, w)
    img = mask.astype(np.float32) if grey is None else grey
    new_h = max(1, int(round(h * scale)))
    new_w = max(1, int(round(w * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(img, (new_w, new_h), interpolation=interp)
    # np.clip to [0, 1] in place, without np.clip's per-call overhead (5 us on a crop).
    np.minimum(np.maximum(small, 0.0, out=small), 1.0, out=small)
    total = float(small.sum())
    if total <= 0:
        return np.zeros((SIZE, SIZE), np.float32)
    # Row and column indices broadcast rather than np.indices' full grids: the same float64
    # products and sums.
    cy = float((np.arange(new_h)[:, None] * small).sum() / total)
    cx = float((np.arange(new_w) * small).sum() / total)
    # Integer shift, as MNIST did: keeps strokes crisp; the centre lands within 0.5 px.
    top = int(round((SIZE - 1) / 2.0 - cy))
    left = int(round((SIZE - 1) / 2.0 - cx))
    out = np.zeros((SIZE, SIZE), np.float32)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + new_h, SIZE), min(left + new_w, SIZE)
    out[y0:y1, x0:x1] = small[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def tilted(crops: np.ndarray, degrees: float) -> np.ndarray:
    """MNIST-style crops (N, 28, 28) float32 rotated by ``degrees`` (counter-clockwise) about
    the field's centre, where :func:`to_mnist` put their centre of mass. A tilt of 10 degrees
    keeps a digit inside the field unless its ink fills a corner of the 20 px box."""
    m = cv2.getRotationMatrix2D(((SIZE - 1) / 2.0, (SIZE - 1) / 2.0), degrees, 1.0)
    out = np.empty((len(crops), SIZE, SIZE), np.float32)
    for i, crop in enumerate(crops):
        out[i] = cv2.warpAffine(crop, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0.0)
    return out


def ink_from_gray(gray: np.ndarray) -> np.ndarray:
    """Binary ink mask from a single-digit grayscale image of either polarity.

    Polarity is read from the border: a photo or a paint drawing has light paper at its edges,
    MNIST has a black field. Otsu then separates ink from paper.
    """
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {gray.shape}")
    g = gray
    if g.dtype != np.uint8:
        g = cv2.normalize(g.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    if np.median(border) > 127:
        g = 255 - g  # dark ink on light paper -> white ink on black
    if int(g.max()) == int(g.min()):
        return np.zeros(g.shape, bool)
    _, mask = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return mask > 0
