"""One mark in a whole picture (a phone photo, a scan, a drawing), cleaned and normalised for
the model: pure array stages, for :mod:`formreader.reading.single_digit`.

A photo is not a scanned form. Its paper is lit unevenly (a gradient across it, the hard-edged
shadow of a hand or a phone), it may be ruled or squared, and it may hold a letter, a symbol or
nothing at all; a global threshold reads a shadow as ink. So the picture goes through the
field-image stages of :mod:`formreader.imaging.crop_clean`, with settings for a picture of one
mark (:func:`prepare_digit`):

1. Polarity from the strokes, not the areas (:func:`ink_is_dark`): a shadow over most of the
   picture is a large dark area, and :func:`~formreader.imaging.crop_clean.paper_light` would
   turn the picture over.
2. The paper's light divided out (:func:`~formreader.imaging.crop_clean.flatten`) with a window
   sized to the pen (a few stroke widths): wide enough to take a stroke for ink, narrow enough
   that a shadow's edge leaves no dark band.
3. Ink by the paper's own noise (:func:`~formreader.imaging.crop_clean.ink_mask`).
4. Rulings: the picture turned and sheared so that they run along the axes (:func:`square_rulings`),
   then :func:`~formreader.imaging.crop_rulings.remove_lines`, kept only when they cross the
   picture as a ruled paper's lines do (:func:`rulings`). What is left of them (pieces in line
   with a ruling, marks as thin and pale as the rulings) goes too; when every mark is drawn
   like the rulings (a black pen in a box printed black: a form's cell cut out), the straight
   ones go and the bent ones stay (:func:`bent_marks`).
5. The digit's marks: the mark with the most ink and the marks of its writing near it
   (:func:`digit_marks`); pale marks, specks and marks far from it are left out.
6. Normalised to 28x28 with its grey levels (:mod:`formreader.imaging.normalize`), once as
   written and once with its slant taken out.

All sizes are shares of the picture or of its strokes, so a 28 px MNIST digit and a 4,000 px
phone photo go through the same code at the same working height.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from formreader.imaging.clean import as_uint8, components
from formreader.imaging.crop_clean import (MIN_CONTRAST, drop_edge_marks, estimate_slant, flatten, ink_mask, shear_rows,
                                           work_size)
from formreader.imaging.crop_rulings import remove_lines, stroke_width
from formreader.imaging.deskew import estimate_skew
from formreader.imaging.normalize import SIZE, field_darkness, shade, to_mnist

# Pictures are cleaned at this height: a digit that fills a third of the picture is then ~50 px
# high, the size the normalisation to 28x28 works from; a phone photo costs no more than a crop.
WORK_HEIGHT = 160


@dataclass(frozen=True)
class PreparedDigit:
    """An image made ready for the model: its crops and the masks they came from."""

    crop: np.ndarray  # (28, 28) float32, the mark as written (zeros without ink)
    upright: np.ndarray  # (28, 28) float32, the mark with its slant taken out
    mask: np.ndarray  # bool, the digit's marks at working size
    others: np.ndarray  # bool, ink that was taken out (rulings, their remnants, edge marks)
    height_share: float  # the marks' height as a share of the picture's
    contrast: float  # the marks' median darkness as a share of the paper's brightness


def as_gray_uint8(image: np.ndarray) -> np.ndarray:
    """A 2-D image as uint8 grey: uint8 as it is, uint16 scaled down, floats read as 0..1 when
    they stay within it (else as 0..255). Never stretched to its own range: that would make the
    noise of a blank picture as strong as ink."""
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return (image // 257).astype(np.uint8)
    img = image.astype(np.float32)
    if img.size and float(np.nanmax(img)) <= 1.0:
        img = img * 255.0
    return np.clip(np.nan_to_num(img) + 0.5, 0, 255).astype(np.uint8)


def ink_is_dark(gray: np.ndarray, window: float = 0.25, noise_sigmas: float = 3.0) -> bool:
    """Whether the ink is darker than the paper, from the strokes rather than the areas.

    Each pixel is compared with the median of a window (``window`` of the height) around it:
    thin strokes stand out from that median on one side only, while a shadow's edge or a
    gradient moves the median with them. Dark ink is what stands out darker by more than
    ``noise_sigmas`` of the picture's own noise, summed over the picture, against what stands
    out lighter. A shadow over most of a photo (dark by area) and an MNIST image (white on
    black) are both read the right way round.
    """
    k = max(3, int(round(window * gray.shape[0])) | 1)
    resid = gray.astype(np.float32) - cv2.medianBlur(gray, k).astype(np.float32)
    noise = 1.4826 * float(np.median(np.abs(resid))) + 1.0
    t = noise_sigmas * noise
    return float(np.maximum(-resid - t, 0).sum()) >= float(np.maximum(resid - t, 0).sum())


def square_rulings(flat: np.ndarray, ink: np.ndarray, max_tilt: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """The picture turned so that its horizontal rulings are level, then sheared so that its
    vertical ones stand upright (each up to ``max_tilt`` degrees): a photo is rarely square to
    the paper, and :func:`~formreader.imaging.crop_rulings.remove_lines` finds straight runs along
    the axes only. The angles are the ones at which the rows (then the columns) of ink are
    sharpest (:func:`~formreader.imaging.deskew.estimate_skew`)."""
    h, w = ink.shape
    angle = estimate_skew(ink, max_tilt)
    if abs(angle) >= 0.2:
        m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
        ink, flat = _warp(ink, flat, m)
    k = float(np.tan(np.radians(estimate_skew(np.ascontiguousarray(ink.T), max_tilt))))
    if abs(k) >= 0.004:  # under a quarter of a degree: a pixel over the working height
        shear = np.array([[1, -k, k * (h - 1) / 2.0], [0, 1, 0]], np.float32)
        ink, flat = _warp(ink, flat, shear)
    return flat, ink


def _warp(ink: np.ndarray, flat: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A mask and its grey picture through one affine map, the edges carried on outwards."""
    size = (ink.shape[1], ink.shape[0])
    ink = cv2.warpAffine(as_uint8(ink), m, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE) > 0
    flat = cv2.warpAffine(flat, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return ink, flat


def rulings(ink: np.ndarray, stroke: float, pad: float = 0.25, h_length: float = 0.5, v_length: float = 0.45,
            gap: float = 0.04, span: float = 0.85, bridge: float = 0.3,
            several: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """The ink without the paper's rulings, and the rulings.

    Candidates are :func:`~formreader.imaging.crop_rulings.remove_lines`'s, on the mask with its
    edges carried ``pad`` of its size outwards (a ruling runs on past the picture; the shares
    ``h_length``, ``v_length`` and ``gap`` are of that larger mask). A ruled paper's lines cross
    the whole picture, and come several to a page; a digit's stroke does neither. So the
    candidates of one direction are rulings only when one of them, its breaks of up to
    ``bridge`` of the picture closed, spans ``span`` of the picture, or when ``several`` (two at
    least) span that share of it each. Otherwise they go back to the ink: the bar of a 7 or
    the stem of a 1 that touches the picture's edge stays.
    """
    h, w = ink.shape
    py, px = int(pad * h), int(pad * w)
    big = cv2.copyMakeBorder(as_uint8(ink), py, py, px, px, cv2.BORDER_REPLICATE).astype(bool)
    kept, lines = remove_lines(big, h_length=h_length, v_length=v_length, stroke=stroke, gap=gap, turned=False)
    kept, lines = kept[py : py + h, px : px + w], lines[py : py + h, px : px + w]
    if not lines.any():
        return kept, lines
    m = as_uint8(lines)
    found = np.zeros((h, w), bool)
    for size, shape in ((w, lambda n: (1, n)), (h, lambda n: (n, 1))):
        along = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones(shape(max(3, size // 10)), np.uint8))
        closed = cv2.morphologyEx(along, cv2.MORPH_CLOSE, np.ones(shape(max(3, int(bridge * size)) | 1), np.uint8))
        n, _, stats = components(closed > 0)
        lengths = stats[1:, cv2.CC_STAT_WIDTH if size == w else cv2.CC_STAT_HEIGHT]
        if n > 1 and (lengths.max() >= span * size or np.count_nonzero(lengths >= several * size) >= 2):
            found |= along > 0
    # The junctions and anti-aliased edges of a ruling go with it.
    ruled = cv2.dilate(as_uint8(found), np.ones((5, 5), np.uint8)) > 0
    return kept | (lines & ~ruled), lines & ruled


def ruling_remnants(kept: np.ndarray, lines: np.ndarray, reach: float = 0.5,
                    share: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """The ink without the pieces of rulings that line removal left (a faint stretch, the end
    by the picture's edge), and those pieces: marks with ``share`` of their pixels on the line
    of a ruling carried ``reach`` of the picture further along its direction."""
    h, w = kept.shape
    m = as_uint8(lines)
    horiz = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((1, max(3, w // 10)), np.uint8))
    vert = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((max(3, h // 10), 1), np.uint8))
    along = np.maximum(cv2.dilate(horiz, np.ones((3, max(3, int(reach * w)) | 1), np.uint8)),
                       cv2.dilate(vert, np.ones((max(3, int(reach * h)) | 1, 3), np.uint8)))
    n, labels, stats = components(kept)
    on_line = np.bincount(labels[along > 0], minlength=n)
    drop = on_line >= share * stats[:, cv2.CC_STAT_AREA]
    drop[0] = False
    gone = drop[labels]
    return kept & ~gone, gone


def like_rulings(kept: np.ndarray, lines: np.ndarray, flat: np.ndarray, wider: float = 1.5,
                 darker: float = 1.3) -> tuple[np.ndarray, np.ndarray]:
    """The ink without the marks drawn in the rulings' own ink, and those marks: no more than
    ``wider`` times the rulings' width and ``darker`` times their darkness. A faint ruling
    breaks into short pieces that no line finder calls a line; the pen is wider or darker
    than the printing."""
    dark = 255.0 - flat.astype(np.float32)
    width, level = stroke_width(lines), float(np.median(dark[lines]))
    n, labels, stats = components(kept)
    drop = np.zeros(n, bool)
    for i in range(1, n):
        x, y, cw, ch = (int(v) for v in stats[i, :4])
        own = labels[y : y + ch, x : x + cw] == i
        mark_dark = float(np.median(dark[y : y + ch, x : x + cw][own]))
        drop[i] = stroke_width(own) <= wider * width and mark_dark <= darker * level
    gone = drop[labels]
    return kept & ~gone, gone


def bent_marks(mask: np.ndarray, stroke: float, straight: float = 1.0) -> np.ndarray:
    """The marks of ``mask`` that are not straight strokes: their ink spreads more than
    ``straight`` pen widths (``stroke``) across its own long axis (the spread of a straight
    stroke of any length and tilt is about 0.3 pen widths)."""
    n, labels, stats = components(mask)
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        ys, xs = np.nonzero(labels[y : y + h, x : x + w] == i)
        if ys.size < 3:
            continue
        across = float(np.linalg.eigvalsh(np.cov(np.stack([xs, ys]).astype(np.float64)))[0])
        keep[i] = np.sqrt(max(across, 0.0)) > straight * stroke
    return keep[labels]


def digit_marks(mask: np.ndarray, flat: np.ndarray, stroke: float, pale: float = 0.5, speck: float = 1.5,
                share: float = 0.1, near: float = 0.35) -> np.ndarray:
    """The marks of the one digit: the mark with the most ink (darkness summed over its
    pixels), and the marks near it that were written with it.

    Left out: marks that cross the picture from edge to opposite edge (a photo of one digit
    has paper around it; a line across the whole picture is a shadow's or the paper's edge, a
    fold or a ruling), marks paler than ``pale`` of its mean darkness (the writing is the
    darkest thing on the paper; paler marks are printing or dirt), specks of less than
    ``speck`` squared pen widths or ``share`` of its area, and marks further from its box than
    ``near`` of its size. Kept: the parts of a digit that a pen lift or a ruling's removal
    split (the bar of a 5, the two halves of a 4).
    """
    n, labels, stats = components(mask)
    if n <= 1:
        return np.zeros_like(mask)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    x0, y0, w0, h0 = (stats[:, i] for i in range(4))
    across = ((y0 == 0) & (y0 + h0 >= mask.shape[0])) | ((x0 == 0) & (x0 + w0 >= mask.shape[1]))
    area[across] = 0.0
    area[0] = 0.0
    if not area.any():
        return np.zeros_like(mask)
    dark = 255.0 - flat.astype(np.float64)
    ink = np.bincount(labels.ravel(), weights=dark.ravel(), minlength=n)
    ink[area == 0] = 0.0
    mean = ink / np.maximum(area, 1.0)
    main = int(np.argmax(ink))
    x, y, w, h = (int(v) for v in stats[main, :4])
    reach = near * max(w, h)
    big_enough = (area >= max(4.0, speck * stroke * stroke)) & (area >= share * area[main])
    keep = big_enough & (mean >= pale * mean[main])
    for i in np.flatnonzero(keep):
        xi, yi, wi, hi = (int(v) for v in stats[i, :4])
        gap = max(max(x, xi) - min(x + w, xi + wi), max(y, yi) - min(y + h, yi + hi), 0)
        keep[i] = gap <= reach
    keep[main], keep[0] = True, False
    return keep[labels]


def prepare_digit(gray: np.ndarray, *, height: int = WORK_HEIGHT, window: float = 0.25, pen_windows: float = 3.0,
                  min_window: float = 0.06, off_paper: float = 0.15, own_level: float = 0.5,
                  max_tilt: float = 8.0) -> PreparedDigit:
    """An image of one mark, cleaned and normalised for the model (see the module docstring).

    ``height``: working height. ``window``: the first flattening window (share of the height),
    which finds the pen; the picture is then flattened again with a window of ``pen_windows``
    pen widths, kept within [``min_window``, ``window``]: a narrow window leaves no dark band
    at a shadow's edge, but must stay wider than a stroke. ``off_paper``: paper darker than
    this share of the picture's usual paper is left blank (flatten's default, 0.6, would blank
    a deep shadow and the digit in it). ``own_level``: each mark is cut at this share of its own
    darkness (a ruling or a smudge joined to a stroke is paler than the stroke).
    ``max_tilt``: the most a photo's rulings are turned to square them.
    """
    g = as_gray_uint8(gray)
    empty = np.zeros((SIZE, SIZE), np.float32)
    if g.size == 0 or int(g.max()) - int(g.min()) < MIN_CONTRAST:  # one grey: nothing written
        blank = np.zeros(g.shape, bool)
        return PreparedDigit(empty, empty, blank, blank, 0.0, 0.0)
    scale = work_size(g.shape, height)
    size = (max(1, int(round(g.shape[1] * scale))), max(1, int(round(g.shape[0] * scale))))
    if size != (g.shape[1], g.shape[0]):
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    work = g if ink_is_dark(g, window) else 255 - g
    flat = flatten(work, window=window, off_paper=off_paper)
    ink = ink_mask(flat, own_level=own_level)
    pen = stroke_width(ink)
    if ink.any():
        fitted = min(window, max(min_window, pen_windows * pen / work.shape[0]))
        flat = flatten(work, window=fitted, off_paper=off_paper)
        ink = ink_mask(flat, own_level=own_level)
        pen = stroke_width(ink)
    kept, lines = rulings(ink, pen)
    if ink.any():
        sq_flat, sq_ink = square_rulings(flat, ink, max_tilt)
        sq_kept, sq_lines = rulings(sq_ink, pen)
        if np.count_nonzero(sq_lines) > np.count_nonzero(lines):
            flat, ink, kept, lines = sq_flat, sq_ink, sq_kept, sq_lines
    kept, others = drop_edge_marks(kept)
    if lines.any():
        kept, pieces = ruling_remnants(kept, lines)
        left, alike = like_rulings(kept, lines, flat)
        if not left.any():
            # Every mark drawn like the rulings: a black pen on a box printed as black and as
            # wide (a form's box cut out by a capture tool), or the rest of the paper's own
            # lines. The ink cannot tell them apart, the shape can: a piece of a ruling is
            # straight, a digit (but a plain 1) is not.
            left = bent_marks(kept, pen)
            alike = kept & ~left
        kept = left
        others |= lines | pieces | alike
    mask = digit_marks(kept, flat, pen)
    if not mask.any():
        return PreparedDigit(empty, empty, mask, others, 0.0, 0.0)
    rows = np.flatnonzero(mask.any(axis=1))
    tall = float(rows[-1] - rows[0] + 1)
    # The mark shaded from the picture's grey levels, as the page reader shades its digits.
    darkness = field_darkness(flat, mask, others)
    if darkness is None:
        marked = mask.astype(np.float32)
    else:
        fringe = (cv2.dilate(as_uint8(mask), np.ones((3, 3), np.uint8)) > 0) & ~others
        marked = shade(darkness, mask, fringe)
    crop = to_mnist(marked)
    slant = estimate_slant(mask, 0.5 * tall)
    upright = crop
    if abs(slant) >= 0.05:  # under ~3 degrees: upright already
        pad = int(np.ceil(abs(slant) * mask.shape[0]))
        upright = to_mnist(shear_rows(marked, slant, float(rows[0] + rows[-1]) / 2.0, pad, 0))
    contrast = 1.0 - float(np.median(flat[mask])) / 255.0
    return PreparedDigit(crop, upright, mask, others, tall / mask.shape[0], contrast)
