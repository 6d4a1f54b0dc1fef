"""Synthetic handwritten digit strings for training the string reader (:mod:`formreader.recognizer.strings`).

No real strings are needed: MNIST digits (each writer's own shapes) are redrawn at a random pen
width and slant (:func:`formreader.training.drawing.glyph`) and set side by side the way people write
numbers: spaced, touching or overlapping so that their ink truly joins, tied by a ligature,
grouped by dots or commas, closed by a dash, underlined, with a speck or a cut-off neighbour's
stroke at the edges. Each sample is drawn the way the field reader hands a number over (white
ink on black, :data:`HEIGHT` rows, the digits about two thirds of that high, centred), so the
reader learns what it will be shown.

Everything is drawn from one seeded generator: the same seed gives the same samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from formreader.recognizer.strings import ALPHABET, HEIGHT
from formreader.training.drawing import glyph

DIGIT_HEIGHT = (18.0, 24.0)  # digit height range in a string image, pixels


@dataclass(frozen=True)
class StringSample:
    image: np.ndarray  # (HEIGHT, width) float32, ink 1.0 on 0.0
    text: str  # what is drawn, in ALPHABET


def encode(text: str) -> list[int]:
    """CTC classes of a string (blank is 0)."""
    return [ALPHABET.index(c) + 1 for c in text]


def _digits_text(rng: np.random.Generator) -> str:
    """The written form of a random number: 1-12 digits, sometimes with thousands separators,
    decimals, a closing dash or as a date."""
    n = int(rng.choice(np.arange(1, 13), p=_LENGTHS))
    digits = "".join(str(d) for d in rng.integers(0, 10, n))
    r = rng.random()
    if r < 0.05 and n >= 4:
        cut = [2, 4] if n >= 6 else [1, 2]
        parts = [digits[: cut[0]], digits[cut[0] : cut[1]], digits[cut[1] :]]
        return "/".join(p for p in parts if p)
    text = digits
    if r < 0.3 and n >= 4:
        sep = "." if rng.random() < 0.6 else ","
        head = len(digits) % 3 or 3
        groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
        text = sep.join(groups)
    elif r < 0.4 and n >= 3:
        sep = "," if rng.random() < 0.6 else "."
        text = digits[:-2] + sep + digits[-2:]
    if rng.random() < 0.08:
        text += "-" if rng.random() < 0.6 else ".-"
    elif rng.random() < 0.04:
        text += "."
    return text


# Register numbers and boxes hold few digits, amounts more: short strings are drawn most often.
_LENGTHS = np.array([12, 14, 14, 12, 9, 8, 7, 6, 5, 5, 4, 4], np.float64)
_LENGTHS /= _LENGTHS.sum()


# Share of strings whose last one or two digits are written small (StringWriter._small_tail).
SMALL_TAIL = 0.08


class StringWriter:
    """Draws :class:`StringSample`s from MNIST digits with one seeded generator."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int, width: int = 352,
                 squeezed: float = 0.0) -> None:
        """``squeezed``: the share of strings written cramped, narrow digits run into each other
        by a third to a half of their height (two digits that read as one otherwise)."""
        self.by_digit = [images[labels == d] for d in range(10)]
        self.rng = np.random.default_rng(seed)
        self.width = width
        self.squeezed = squeezed

    def _glyph(self, d: int, dh: float, slant: float, level: float, cramped: bool = False) -> np.ndarray:
        pool = self.by_digit[d]
        img = pool[int(self.rng.integers(0, len(pool)))]
        g = glyph(img, dh * float(self.rng.uniform(0.9, 1.08)), slant + float(self.rng.normal(0, 0.05)), level)
        if cramped or self.rng.random() < 0.3:  # narrower or wider hands
            f = float(self.rng.uniform(0.6, 0.85)) if cramped else float(self.rng.uniform(0.8, 1.2))
            g = cv2.resize(g, (max(1, int(round(g.shape[1] * f))), g.shape[0]), interpolation=cv2.INTER_LINEAR)
        return g

    def _mark(self, c: str, dh: float, pen: float) -> tuple[np.ndarray, float]:
        """A separator's ink and its vertical centre as a share of the digit height from the top."""
        rng = self.rng
        t = max(1, int(round(pen)))
        if c == ".":
            r = max(2.0, pen * rng.uniform(0.5, 0.9))  # a dot the broad-pen erosion cannot wipe out
            s = int(np.ceil(2 * r + 2))
            m = np.zeros((s, s), np.float32)
            cv2.circle(m, (s // 2, s // 2), int(round(r)), 1.0, -1, cv2.LINE_AA)
            return m, float(rng.uniform(0.85, 1.0))
        if c == ",":
            h = int(round(dh * rng.uniform(0.2, 0.35)))
            w = max(2, int(round(h * rng.uniform(0.3, 0.6))))
            m = np.zeros((h + 2 * t, w + 2 * t), np.float32)
            cv2.line(m, (w + t, t), (t, h + t), 1.0, t, cv2.LINE_AA)
            return m, float(rng.uniform(0.95, 1.1))
        if c == "-":
            w = int(round(dh * rng.uniform(0.3, 0.7)))
            m = np.zeros((3 * t, w + 2 * t), np.float32)
            cv2.line(m, (t, int(1.5 * t + rng.uniform(-0.5, 0.5))), (w + t, int(1.5 * t)), 1.0, t, cv2.LINE_AA)
            return m, float(rng.uniform(0.4, 0.65))
        h = int(round(dh * rng.uniform(0.85, 1.05)))  # "/"
        w = max(2, int(round(h * rng.uniform(0.3, 0.55))))
        m = np.zeros((h + 2 * t, w + 2 * t), np.float32)
        cv2.line(m, (t, h + t), (w + t, t), 1.0, t, cv2.LINE_AA)
        return m, 0.5

    def sample(self) -> StringSample:
        rng = self.rng
        text = _digits_text(rng)
        dh = float(rng.uniform(*DIGIT_HEIGHT)) * 1.5  # drawn at 1.5x, shrunk at the end (smoother)
        slant = float(rng.normal(0.0, 0.08))
        level = float(rng.uniform(0.2, 0.7))  # a higher level cuts a thinner stroke
        pen = max(1.5, dh * float(rng.uniform(0.07, 0.14)))
        cramped = self.squeezed > 0 and rng.random() < self.squeezed
        # the writer's spacing, in digit heights
        gap = float(rng.uniform(-0.5, -0.3)) if cramped else float(rng.uniform(-0.22, 0.35))
        canvas = np.zeros((int(dh * 2.2), int(dh * 1.1 * (len(text) + 2)) + 40), np.float32)
        top = (canvas.shape[0] - dh) / 2.0
        x = float(rng.uniform(0.1, 0.8)) * dh
        prev_right: tuple[int, int] | None = None
        after_mark = False
        small_from = self._small_tail(text)
        small, raised = max(float(rng.uniform(0.45, 0.7)), 12.0 / dh), rng.random() < 0.7  # >= 8 rows on the strip
        for i, c in enumerate(text):
            if c.isdigit() and i >= small_from:
                ink = self._glyph(int(c), dh * small, slant, min(level, 0.35))  # never too thin to see
                y = top + (rng.uniform(-0.15, 0.1) * dh if raised else dh - ink.shape[0] + rng.normal(0, 0.03) * dh)
            elif c.isdigit():
                ink = self._glyph(int(c), dh, slant, level, cramped)
                y = top + rng.normal(0, 0.05) * dh + (dh - ink.shape[0]) / 2.0
            else:
                ink, centre = self._mark(c, dh, pen)
                y = top + centre * dh - ink.shape[0] / 2.0
            step = gap + float(rng.normal(0, 0.08))
            if not c.isdigit() or after_mark:  # writers leave room for a separator
                step = max(step, float(rng.uniform(0.04, 0.15)))
            after_mark = not c.isdigit()
            xi = int(round(x + (step * dh if prev_right is not None else 0)))
            xi = max(0, xi)
            yi = int(round(y))
            h, w = ink.shape
            if xi + w >= canvas.shape[1] or yi < 0 or yi + h > canvas.shape[0]:
                pad = np.zeros((canvas.shape[0], w + 10), np.float32)
                canvas = np.hstack([canvas, pad])
                yi = min(max(0, yi), canvas.shape[0] - h)
            region = canvas[yi : yi + h, xi : xi + w]
            np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
            if prev_right is not None and c.isdigit() and rng.random() < 0.15:
                # A ligature: the pen runs on from the last digit's foot into this one.
                cv2.line(canvas, prev_right, (xi + w // 4, int(yi + h * rng.uniform(0.4, 0.9))), 1.0,
                         max(1, int(round(pen * 0.7))), cv2.LINE_AA)
            if c.isdigit():
                prev_right = (xi + int(w * 0.8), int(yi + h * rng.uniform(0.6, 0.95)))
            x = xi + w
        cols = np.nonzero(canvas.max(axis=0) > 0.3)[0]
        x_end = int(cols.max()) + 1 if cols.size else int(x)
        self._extras(canvas, int(top), dh, pen, x_end, text)
        return StringSample(self._finish(canvas, dh, thin=level > 0.45), text)

    def _small_tail(self, text: str) -> int:
        """Where the last digits of ``text`` start being written small (``len(text)``: none).

        Writers set the last one or two digits small, raised like cents on a cheque (``25⁵⁰``)
        or as a small ring after a digit (``2o`` for 20): SMALL_TAIL of the strings end so."""
        if self.rng.random() >= SMALL_TAIL:
            return len(text)
        k = 1 + int(self.rng.random() < 0.5)
        start = len(text) - k
        if start < 1 or not text[start:].isdigit() or not text[start - 1].isdigit():
            return len(text)
        return start

    def _extras(self, canvas: np.ndarray, top: int, dh: float, pen: float, x_end: int, text: str) -> None:
        """What cleaning leaves around real numbers: bits of underline, specks, a neighbour's
        stroke cut by the crop edge."""
        rng = self.rng
        t = max(1, int(round(pen * rng.uniform(0.6, 1.0))))
        if rng.random() < 0.12:  # an underline or its remains, under or through the feet
            low = 1.2 if "." in text or "," in text else 0.9  # clear of the separators
            y = int(top + dh * rng.uniform(low, low + 0.25))
            x0 = int(rng.uniform(0, 0.3) * x_end)
            x1 = int(x_end * rng.uniform(0.6, 1.1))
            cv2.line(canvas, (x0, y), (x1, y + int(rng.integers(-2, 3))), 1.0, t, cv2.LINE_AA)
        for _ in range(int(rng.poisson(0.4))):  # specks
            r = max(1, int(pen * rng.uniform(0.3, 0.7)))
            y = int(rng.uniform(0, canvas.shape[0]))
            if top + 0.7 * dh <= y <= top + 1.15 * dh:
                # A speck on the digits' foot line is a full stop to any reader: not a speck.
                y = int(top + 0.7 * dh) - 2 * r - 1 if rng.random() < 0.5 else int(top + 1.15 * dh) + 2 * r + 1
            cv2.circle(canvas, (int(rng.uniform(0, canvas.shape[1])), y), r, float(rng.uniform(0.5, 1.0)), -1)

    def _finish(self, canvas: np.ndarray, dh: float, thin: bool = False) -> np.ndarray:
        """Crop to the ink with a margin, shrink to HEIGHT rows, binarise like the field
        cleaner's mask and fit the training width. A ``thin`` stroke is never eroded: it would
        break into specks no reader could name."""
        rng = self.rng
        cols = np.nonzero(canvas.max(axis=0) > 0.2)[0]
        if cols.size:
            m = int(dh * rng.uniform(0.1, 0.8))
            canvas = canvas[:, max(0, cols.min() - m) : cols.max() + 1 + int(dh * rng.uniform(0.1, 0.8))]
        if rng.random() < 0.35:  # fine and broad pens
            k = np.ones((3, 3), np.uint8)
            broad = rng.random() < 0.4
            if broad or not thin:
                canvas = cv2.dilate(canvas, k) if broad else cv2.erode(canvas, k)
        mask = (canvas > rng.uniform(0.35, 0.6)).astype(np.float32)
        f = 1 / 1.5  # back from the drawing scale
        out_h = int(round(canvas.shape[0] * f))
        out_w = max(4, int(round(canvas.shape[1] * f)))
        small = cv2.resize(mask, (out_w, out_h), interpolation=cv2.INTER_AREA)
        # Centre the digits' band on HEIGHT rows (jittered).
        y_mid = out_h / 2.0 + rng.normal(0, 1.0)
        y0 = int(round(y_mid - HEIGHT / 2.0))
        img = np.zeros((HEIGHT, out_w), np.float32)
        src0, src1 = max(0, y0), min(out_h, y0 + HEIGHT)
        img[src0 - y0 : src1 - y0] = small[src0:src1]
        if img.shape[1] > self.width:
            img = cv2.resize(img, (self.width, HEIGHT), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.2:
            img = cv2.GaussianBlur(img, (3, 3), float(rng.uniform(0.3, 0.8)))
        return img


def batches(writer: StringWriter, size: int, count: int = 1) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]]:
    """``count`` batches of ``size`` samples, the samples sorted by width first so that each
    batch is padded only as wide as its own widest sample needs (short numbers are the most
    common, and columns of padding cost as much to train on as columns of ink)."""
    samples = sorted((writer.sample() for _ in range(size * count)), key=lambda s: s.image.shape[1])
    return [pack(samples[i : i + size], writer.width, writer.rng) for i in range(0, size * count, size)]


def batch(writer: StringWriter, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """One batch of ``size`` samples (see :func:`pack`)."""
    return pack([writer.sample() for _ in range(size)], writer.width, writer.rng)


def pack(samples: list[StringSample], max_width: int, rng: np.random.Generator
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Samples padded to one width (a multiple of 32, at most ``max_width``) at random offsets:
    images (N, HEIGHT, width), dense labels (N, max_len) with 0 padding, label lengths (N,),
    and the texts."""
    size = len(samples)
    widest = max(s.image.shape[1] for s in samples)
    width = min(max_width, 32 * int(np.ceil((widest + 8) / 32.0)))
    x = np.zeros((size, HEIGHT, width), np.float32)
    longest = max(len(s.text) for s in samples)
    y = np.zeros((size, longest), np.int32)
    lengths = np.zeros(size, np.int32)
    for i, s in enumerate(samples):
        w = s.image.shape[1]
        off = int(rng.integers(0, width - w + 1))
        x[i, :, off : off + w] = s.image
        codes = encode(s.text)
        y[i, : len(codes)] = codes
        lengths[i] = len(codes)
    return x, y, lengths, [s.text for s in samples]


def as_field_image(image: np.ndarray, scale: float = 2.0, margin: int = 8, border: int = 6) -> np.ndarray:
    """A sample's string as a user's field image: dark ink on white paper (uint8), cut to its ink
    ``margin`` columns either side, enlarged ``scale`` times and framed by ``border`` pixels of
    paper. How the synthetic strings check the whole field reader, cleaning included, and not
    only the network that learnt them."""
    image = np.pad(image, ((0, 0), (margin, margin)))  # the strip may hold ink up to its edge
    cols = np.flatnonzero(image.max(axis=0) > 0.1)
    if cols.size:
        image = image[:, int(cols[0]) - margin : int(cols[-1]) + margin + 1]
    gray = (255.0 - image * 255.0).clip(0, 255).astype(np.uint8)
    gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    return cv2.copyMakeBorder(gray, border, border, border, border, cv2.BORDER_CONSTANT, value=255)
