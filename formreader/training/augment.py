"""Training data that looks like what the page scanner produces.

MNIST digits are clean, centred, anti-aliased and of one stroke width. The scanner's crops are
binarized ink from 100-300 dpi pages: thicker or thinner, slanted, broken by thresholding, with
remnants of box lines. So each training digit is (sometimes) drawn at scan resolution, distorted,
thresholded, damaged, and then passed through :func:`formreader.imaging.normalize.to_mnist`, the very
function the scanner uses. Non-digit marks for the reject class are made the same way.

All functions take a ``numpy.random.Generator`` so that a seed fixes the data exactly.
"""

from __future__ import annotations

import cv2
import numpy as np

from formreader.imaging.normalize import shade, to_mnist

# Letters that cannot be mistaken for a digit (no O/o/l/I/S/s/Z/z/B/b/g/q/G/T/J/D/A...).
REJECT_LETTERS = "acefhkmnrtuvwxyCEFHKMNPRUVWXY"
_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)


def _affine(img: np.ndarray, rng: np.random.Generator, rot: float, shear: float,
            scale: tuple[float, float], shift: float = 0.0) -> np.ndarray:
    """Random rotation/shear/anisotropic scale about the centre, on a canvas big enough to keep it."""
    h, w = img.shape
    a = np.deg2rad(rng.uniform(-rot, rot))
    sh = rng.uniform(-shear, shear)
    sx, sy = rng.uniform(*scale), rng.uniform(*scale)
    m = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array([[1, sh], [0, 1]])
    m = m @ np.diag([sx, sy])
    pad = int(max(h, w) * 0.6)
    out_h, out_w = h + 2 * pad, w + 2 * pad
    centre_in = np.array([(w - 1) / 2, (h - 1) / 2])
    centre_out = np.array([(out_w - 1) / 2, (out_h - 1) / 2]) + rng.uniform(-shift, shift, 2) * max(h, w)
    t = centre_out - m @ centre_in
    mat = np.hstack([m, t[:, None]]).astype(np.float32)
    return cv2.warpAffine(img, mat, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=0)


def elastic(img: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Smoothly warp an image by a random displacement field (Simard et al., 2003).

    Affine jitter cannot bend one stroke and not another; writers do: the top of a 3 curls down
    like a 5's, a 9's loop opens like a 4. ``alpha`` is the largest displacement in pixels,
    ``sigma`` the field's smoothness in pixels.
    """
    h, w = img.shape
    field = rng.uniform(-1, 1, (2, h, w)).astype(np.float32)
    dx, dy = (cv2.GaussianBlur(f, (0, 0), sigma) for f in field)
    scale = alpha / max(float(np.abs(dx).max()), float(np.abs(dy).max()), 1e-6)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + dx * scale, gy + dy * scale, cv2.INTER_LINEAR, borderValue=0)


def mild(digit: np.ndarray, rng: np.random.Generator, warp: float = 0.0) -> np.ndarray:
    """Small geometric jitter of a 28x28 MNIST digit, kept as grey levels (float 0..1).

    ``warp`` is the chance of an elastic distortion on top (training only; 0 draws nothing
    from ``rng``, so evaluation sets stay what they were).
    """
    img = digit.astype(np.float32) / 255.0
    if warp and rng.random() < warp:
        img = elastic(img, rng, alpha=rng.uniform(1.0, 3.0), sigma=4.0)
    a = rng.uniform(-10, 10)
    s = rng.uniform(0.9, 1.1)
    m = cv2.getRotationMatrix2D((13.5, 13.5), a, s)
    m[0, 1] += rng.uniform(-0.15, 0.15)
    m[:, 2] += rng.uniform(-2, 2, 2)
    return cv2.warpAffine(img, m, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0)


def scan_mask(digit: np.ndarray, rng: np.random.Generator, warp: float = 0.0) -> np.ndarray:
    """A 28x28 MNIST digit redrawn as a binary mask as a 100-300 dpi scan would show it.

    ``warp``: chance of an elastic distortion before the affine one (see :func:`mild`).
    """
    return _scan(digit, rng, warp)[1]


def _scan(digit: np.ndarray, rng: np.random.Generator, warp: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`scan_mask`, and the grey digit (float, 1 = ink) it was thresholded from."""
    k = int(rng.choice([1, 2, 3, 4], p=[0.15, 0.3, 0.3, 0.25]))
    img = digit.astype(np.float32) / 255.0
    if k > 1:
        img = cv2.resize(img, (28 * k, 28 * k), interpolation=cv2.INTER_CUBIC)
    if warp and rng.random() < warp:
        img = elastic(img, rng, alpha=rng.uniform(1.0, 3.0) * k, sigma=4.0 * k)
    img = _affine(img, rng, rot=14, shear=0.35, scale=(0.8, 1.15))
    if rng.random() < 0.25:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=rng.uniform(0.5, 1.0) * k)
    mask = (img >= rng.uniform(0.25, 0.7)).astype(np.uint8)
    if not mask.any():  # a thin digit, blurred, under a high threshold: keep its strongest half
        mask = (img >= 0.5 * img.max()).astype(np.uint8)
    r = rng.random()
    if r < 0.25:
        mask = cv2.dilate(mask, np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, k + 1)))
    elif r < 0.4 and k > 1:
        thinner = cv2.erode(mask, np.ones((2, 2), np.uint8), iterations=int(rng.integers(1, k)))
        if thinner.sum() > 0.4 * mask.sum():
            mask = thinner
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return img, mask.astype(bool)
    y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
    if rng.random() < 0.15:  # a break in a stroke, as a light pen and a high threshold make
        t = int(rng.integers(1, max(2, k) + 1))
        y = int(rng.integers(y0, y1 + 1))
        ang = rng.uniform(-0.5, 0.5)
        p1 = (int(x0) - 5, int(y - ang * (x1 - x0) / 2))
        p2 = (int(x1) + 5, int(y + ang * (x1 - x0) / 2))
        cv2.line(mask, p1, p2, 0, t)
    if rng.random() < 0.1:  # a stub of box line left after line removal, touching the digit
        t = max(1, k)
        side = rng.integers(4)
        length = int((x1 - x0 + 1) * rng.uniform(0.3, 0.8))
        if side < 2:
            y = int(y1 + 1) if side == 0 else int(y0 - 1)
            x = int(rng.integers(x0, max(x0 + 1, x1 - length + 1)))
            cv2.line(mask, (x, y), (x + length, y), 1, t)
        else:
            x = int(x1 + 1) if side == 2 else int(x0 - 1)
            length = int((y1 - y0 + 1) * rng.uniform(0.2, 0.5))
            y = int(rng.integers(y0, max(y0 + 1, y1 - length + 1)))
            cv2.line(mask, (x, y), (x, y + length), 1, t)
    if rng.random() < 0.15:  # pepper noise inside the digit's box
        n = int(rng.integers(1, 6))
        mask[rng.integers(y0, y1 + 1, n), rng.integers(x0, x1 + 1, n)] ^= 1
    return img, mask.astype(bool)


def shaded(darkness: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A binary mark shaded as the scanner shades a field's marks (:func:`normalize.shade`):
    darkness scaled so the mark's darker quarter is 1, with scanner noise, on the mark and a
    one-pixel fringe around it."""
    d = np.asarray(darkness, np.float32)
    if mask.any():
        d = d / max(float(np.percentile(d[mask], 75)), 1e-3)
    d = d + rng.normal(0.0, rng.uniform(0.0, 0.08), d.shape).astype(np.float32)
    fringe = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return shade(d, mask, fringe)


def scan_digit(digit: np.ndarray, rng: np.random.Generator, warp: float = 0.0, grey: float = 0.0) -> np.ndarray:
    """A scan-like version of an MNIST digit, normalised exactly as the scanner normalises.

    ``grey``: chance that the crop keeps the grey levels it was binarized from, as the scanner
    keeps a grey page's (:func:`shaded`); otherwise it is the binary mask, as from a bilevel scan.
    """
    img, mask = _scan(digit, rng, warp)
    if grey and rng.random() < grey:
        return to_mnist(shaded(img, mask, rng))
    return to_mnist(mask)


def _stroke_canvas(rng: np.random.Generator) -> tuple[np.ndarray, int]:
    size = int(rng.integers(40, 100))
    return np.zeros((size, size), np.uint8), max(1, int(size * rng.uniform(0.04, 0.12)))


def _dash(rng: np.random.Generator) -> np.ndarray:
    canvas, t = _stroke_canvas(rng)
    n = canvas.shape[0]
    length = rng.uniform(0.3, 0.9) * n
    a = np.deg2rad(rng.uniform(-35, 35))
    c = np.array([n / 2, n / 2])
    d = np.array([np.cos(a), np.sin(a)]) * length / 2
    cv2.line(canvas, tuple((c - d).astype(int)), tuple((c + d).astype(int)), 1, t)
    if rng.random() < 0.3:  # "=" or a double underline
        off = int(t * rng.uniform(2, 4))
        cv2.line(canvas, tuple((c - d).astype(int) + [0, off]), tuple((c + d).astype(int) + [0, off]), 1, t)
    return canvas


def _blob(rng: np.random.Generator) -> np.ndarray:
    """Dots, specks and commas."""
    n = int(rng.integers(12, 60))
    canvas = np.zeros((n * 2, n * 2), np.uint8)
    axes = (int(n * rng.uniform(0.2, 0.45)), int(n * rng.uniform(0.2, 0.45)))
    cv2.ellipse(canvas, (n, n), axes, rng.uniform(0, 180), 0, 360, 1, -1)
    if rng.random() < 0.5:  # a comma's tail
        end = (int(n - axes[0] * rng.uniform(0.5, 1.5)), int(n + axes[1] * rng.uniform(1.5, 3)))
        cv2.line(canvas, (n, n), end, 1, max(1, axes[0] // 2))
    if rng.random() < 0.3:  # ragged edge
        canvas = cv2.dilate(canvas, np.ones((3, 3), np.uint8)) * (rng.random(canvas.shape) < 0.8)
    return canvas


def _box_fragment(rng: np.random.Generator) -> np.ndarray:
    """Corners, T-junctions and crosses left over from box lines."""
    canvas, t = _stroke_canvas(rng)
    n = canvas.shape[0]
    m = n // 2
    a, b = int(rng.uniform(0.05, 0.4) * n), int(rng.uniform(0.6, 0.95) * n)
    kind = rng.integers(3)
    cv2.line(canvas, (a, m), (b, m), 1, t)  # horizontal arm
    if kind == 0:  # corner
        cv2.line(canvas, (a, m), (a, int(rng.uniform(0.6, 0.95) * n)), 1, t)
    elif kind == 1:  # T
        x = int(rng.uniform(a, b))
        cv2.line(canvas, (x, m), (x, int(rng.uniform(0.6, 0.95) * n)), 1, t)
    else:  # cross
        x = int(rng.uniform(a, b))
        cv2.line(canvas, (x, int(0.1 * n)), (x, int(0.9 * n)), 1, t)
    return _affine(canvas.astype(np.float32), rng, rot=8, shear=0.1, scale=(0.9, 1.1)) > 0.5


def _letter(rng: np.random.Generator) -> np.ndarray:
    ch = REJECT_LETTERS[int(rng.integers(len(REJECT_LETTERS)))]
    font = _FONTS[int(rng.integers(len(_FONTS)))]
    scale = rng.uniform(1.2, 2.5)
    thick = int(rng.integers(1, 5))
    canvas = np.zeros((120, 120), np.uint8)
    cv2.putText(canvas, ch, (25, 85), font, scale, 1, thick, cv2.LINE_8)
    return _affine(canvas.astype(np.float32), rng, rot=12, shear=0.3, scale=(0.85, 1.15)) > 0.5


def _half_digit(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The top, bottom, left or right part of a digit (never 1, 4, 7 or 9: their halves look like 1s)."""
    while True:
        i = int(rng.integers(len(digits)))
        if labels[i] not in (1, 4, 7, 9):
            break
    mask = scan_mask(digits[i], rng)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return mask
    frac = rng.uniform(0.3, 0.5)
    side = rng.integers(4)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    h, w = y1 - y0, x1 - x0
    out = np.zeros_like(mask)
    if side == 0:
        out[y0 : y0 + int(h * frac)] = mask[y0 : y0 + int(h * frac)]
    elif side == 1:
        out[y1 - int(h * frac) : y1] = mask[y1 - int(h * frac) : y1]
    elif side == 2:
        out[:, x0 : x0 + int(w * frac)] = mask[:, x0 : x0 + int(w * frac)]
    else:
        out[:, x1 - int(w * frac) : x1] = mask[:, x1 - int(w * frac) : x1]
    return out


def _pair(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two digits side by side, touching or overlapping, as the segmenter must split them."""
    a = digits[int(rng.integers(len(digits)))]
    b = digits[int(rng.integers(len(digits)))]
    ma, mb = (scan_mask(d, np.random.default_rng(rng.integers(1 << 31))) for d in (a, b))

    def crop(m: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(m)
        return m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if ys.size else m

    ma, mb = crop(ma), crop(mb)
    h = max(ma.shape[0], mb.shape[0])
    mb = cv2.resize(mb.astype(np.uint8), (max(1, int(mb.shape[1] * h / max(mb.shape[0], 1))), h),
                    interpolation=cv2.INTER_NEAREST).astype(bool)
    ma = cv2.resize(ma.astype(np.uint8), (max(1, int(ma.shape[1] * h / max(ma.shape[0], 1))), h),
                    interpolation=cv2.INTER_NEAREST).astype(bool)
    overlap = int(min(ma.shape[1], mb.shape[1]) * rng.uniform(0.0, 0.3))
    canvas = np.zeros((h, ma.shape[1] + mb.shape[1] - overlap), bool)
    canvas[:, : ma.shape[1]] |= ma
    canvas[:, ma.shape[1] - overlap :] |= mb
    return canvas


_MAKERS = {
    "dash": lambda d, l, r: _dash(r),
    "blob": lambda d, l, r: _blob(r),
    "box_fragment": lambda d, l, r: _box_fragment(r),
    "letter": lambda d, l, r: _letter(r),
    "half_digit": _half_digit,
    "pair": _pair,
}
REJECT_KINDS = tuple(_MAKERS)
_KIND_P = (0.18, 0.14, 0.14, 0.18, 0.18, 0.18)


def reject_mark(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                kind: str | None = None, grey: float = 0.0) -> np.ndarray:
    """One normalised non-digit mark, of ``kind`` (one of REJECT_KINDS) or a random kind;
    ``grey``: chance it is shaded (:func:`shaded`, from the mark blurred as a scanner blurs it)."""
    if kind is None:
        kind = REJECT_KINDS[int(rng.choice(len(REJECT_KINDS), p=_KIND_P))]
    mask = np.asarray(_MAKERS[kind](digits, labels, rng)).astype(bool)
    if grey and rng.random() < grey:
        blur = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), rng.uniform(0.5, 1.2))
        return to_mnist(shaded(blur, mask, rng))
    return to_mnist(mask)


def jitter_strip(strip: np.ndarray, rng: np.random.Generator, size: float = 0.12, stretch: float = 0.15,
                 shift: int = 2, thicken: float = 0.2) -> np.ndarray:
    """A string reader's input strip (float32 (HEIGHT, W), ink 1.0) redrawn as another scan of
    the same writing might give it: digits ``1 +- size`` as high (the digit height is measured,
    never exact), ``1 +- stretch`` as wide, moved up or down by up to ``shift`` rows, strokes
    thickened with chance ``thicken``.

    Why: a user's few hundred labelled fields are read many times over when a reader is
    fine-tuned on them; without this the reader learns those exact pixels instead of the hand."""
    height = strip.shape[0]
    s = 1.0 + rng.uniform(-size, size)
    w = max(8, int(round(strip.shape[1] * s * (1.0 + rng.uniform(-stretch, stretch)))))
    h = max(1, int(round(height * s)))
    img = cv2.resize(strip, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.zeros((height, w), np.float32)
    top = (height - h) // 2 + int(rng.integers(-shift, shift + 1))
    s0, s1 = max(0, -top), min(h, height - top)
    if s1 > s0:
        out[top + s0 : top + s1] = img[s0:s1]
    if rng.random() < thicken:
        out = cv2.dilate(out, np.ones((2, 2), np.uint8))
    return np.clip(out, 0.0, 1.0)
