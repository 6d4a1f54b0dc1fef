"""The drawing tools of the synthetic forms: a page's two ink layers with its printed text, boxes
and rules (:class:`Canvas`), and handwriting written into them with MNIST test digits by one
writer's pen (:class:`Digits`, :class:`Pen`, :class:`Writer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

_HERSHEY_CAP = 22.0  # cap height in px of a Hershey font at scale 1


@dataclass
class Digits:
    """MNIST test digits grouped by label, the only handwriting the generator uses."""

    by_label: list[np.ndarray]  # by_label[d]: (n, 28, 28) uint8 images of digit d

    @classmethod
    def from_mnist(cls, images: np.ndarray, labels: np.ndarray) -> "Digits":
        return cls([images[labels == d] for d in range(10)])

    @classmethod
    def load_test(cls, mnist_dir: str | Path | None = None) -> "Digits":
        from formreader.training.data import load_mnist

        data = load_mnist(mnist_dir)
        return cls.from_mnist(data.x_test, data.y_test)

    def pick(self, digit: int, rng: np.random.Generator) -> np.ndarray:
        pool = self.by_label[digit]
        return pool[int(rng.integers(len(pool)))]


@dataclass
class Canvas:
    """Two ink layers in page pixels: machine print and handwriting (float, 1 = ink)."""

    width: int
    height: int
    dpi: int
    printed: np.ndarray = field(init=False)
    hand: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.printed = np.zeros((self.height, self.width), np.float32)
        self.hand = np.zeros((self.height, self.width), np.float32)

    def px(self, mm: float) -> int:
        return int(round(mm * self.dpi / 25.4))

    def line_px(self) -> int:
        return max(1, self.px(0.3))  # box lines on forms are ~0.25-0.35 mm

    def text(self, s: str, x_mm: float, y_mm: float, cap_mm: float, font: int = cv2.FONT_HERSHEY_SIMPLEX,
             bold: bool = False, layer: str = "printed", centre: bool = False) -> None:
        """Machine-printed text with its baseline at y (mm)."""
        scale = self.px(cap_mm) / _HERSHEY_CAP
        thick = max(1, int(round(scale * (2.2 if bold else 1.3))))
        x = self.px(x_mm)
        if centre:
            x -= cv2.getTextSize(s, font, scale, thick)[0][0] // 2
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.putText(mask, s, (x, self.px(y_mm)), font, scale, 255, thick, cv2.LINE_AA)
        target = self.printed if layer == "printed" else self.hand
        np.maximum(target, mask.astype(np.float32) / 255.0, out=target)

    def rect(self, x_mm: float, y_mm: float, w_mm: float, h_mm: float, cells: int = 1, comb: float = 1.0) -> tuple[int, int, int, int]:
        """A box (optionally divided into cells; comb < 1 draws ticks of that fraction of the
        height from the bottom) and its bbox in px."""
        x0, y0 = self.px(x_mm), self.px(y_mm)
        x1, y1 = self.px(x_mm + w_mm), self.px(y_mm + h_mm)
        t = self.line_px()
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.rectangle(mask, (x0, y0), (x1, y1), 255, t)
        for i in range(1, cells):
            xi = int(round(x0 + (x1 - x0) * i / cells))
            cv2.line(mask, (xi, y1), (xi, int(round(y1 - (y1 - y0) * comb))), 255, t)
        np.maximum(self.printed, mask.astype(np.float32) / 255.0, out=self.printed)
        return x0, y0, x1 - x0, y1 - y0

    def hline(self, x_mm: float, y_mm: float, w_mm: float) -> None:
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.line(mask, (self.px(x_mm), self.px(y_mm)), (self.px(x_mm + w_mm), self.px(y_mm)), 255, self.line_px())
        np.maximum(self.printed, mask.astype(np.float32) / 255.0, out=self.printed)


@dataclass
class Pen:
    """One writer: pen width, slant, size habit and care, kept for the whole page."""

    threshold: float  # iso-level cut from the upscaled MNIST digit: low = thick strokes
    slant: float  # shear, x shift per unit height
    size: float  # digit height as a fraction of the cell
    spacing: float  # gap between digits as a fraction of digit width
    touch: float  # chance that a digit touches its neighbour or the box
    darkness: float

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Pen":
        return cls(threshold=float(rng.uniform(0.2, 0.6)), slant=float(rng.normal(0.08, 0.12)),
                   size=float(rng.uniform(0.55, 0.8)), spacing=float(rng.uniform(0.1, 0.45)),
                   touch=float(rng.uniform(0.0, 0.12)), darkness=float(rng.uniform(0.75, 1.0)))


def glyph(img28: np.ndarray, height_px: float, slant: float, threshold: float) -> np.ndarray:
    """A MNIST digit redrawn ``height_px`` tall with slant and stroke width: float ink 0..1.

    Upscaling the anti-aliased 28x28 digit and cutting it at an iso-level gives smooth strokes
    whose width depends on the level, which is how pen width is varied.
    """
    a = img28.astype(np.float32) / 255.0
    ys, xs = np.nonzero(a > 0.1)
    crop = np.pad(a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 2)
    h, w = crop.shape
    f = height_px / max(h - 4, 1)
    out_h = int(np.ceil(h * f))
    shear = slant * f
    out_w = int(np.ceil(w * f + abs(shear) * h))
    shift = shear * h if slant > 0 else 0.0
    m = np.float32([[f, -shear, shift], [0, f, 0]])
    up = cv2.warpAffine(crop, m, (out_w, out_h), flags=cv2.INTER_CUBIC)
    return np.clip((up - threshold) / 0.12 + 0.5, 0.0, 1.0)


def _paste(layer: np.ndarray, ink: np.ndarray, x: int, y: int) -> tuple[int, int, int, int]:
    """Max-blend ``ink`` with its top-left at (x, y), clipped to the layer; the inked bbox."""
    h, w = ink.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, layer.shape[1]), min(y + h, layer.shape[0])
    if x1 <= x0 or y1 <= y0:
        return x, y, 0, 0
    part = ink[y0 - y : y1 - y, x0 - x : x1 - x]
    np.maximum(layer[y0:y1, x0:x1], part, out=layer[y0:y1, x0:x1])
    return x0, y0, x1 - x0, y1 - y0


class Writer:
    """Writes digit strings into cells, boxes and lines of a canvas with one pen."""

    def __init__(self, canvas: Canvas, digits: Digits, rng: np.random.Generator) -> None:
        self.c, self.digits, self.rng, self.pen = canvas, digits, rng, Pen.random(rng)

    def _glyph(self, ch: str, height: float) -> np.ndarray:
        g = glyph(self.digits.pick(int(ch), self.rng), height, self.pen.slant + self.rng.normal(0, 0.04),
                  float(np.clip(self.pen.threshold + self.rng.normal(0, 0.04), 0.12, 0.7)))
        return g * self.pen.darkness

    def comb(self, value: str, bbox: tuple[int, int, int, int], cells: int) -> None:
        """One digit per cell, some oversized or low enough to touch the lines."""
        x, y, w, h = bbox
        cw = w / cells
        for i, ch in enumerate(value):
            size = self.pen.size * self.rng.uniform(0.9, 1.1)
            touching = self.rng.random() < self.pen.touch
            if touching:
                size = self.rng.uniform(0.85, 1.0)
            g = self._glyph(ch, size * h)
            if g.shape[1] > 0.92 * cw:  # a writer narrows a digit to fit its cell
                g = self._glyph(ch, size * h * 0.92 * cw / g.shape[1])
            gh, gw = g.shape
            cx = x + (i + 0.5) * cw + self.rng.normal(0, 0.06) * cw
            cy = y + h / 2 + self.rng.normal(0, 0.06) * h
            if touching:  # sit on the bottom line
                cy = y + h - gh / 2 + self.c.line_px()
            _paste(self.c.hand, g, int(round(cx - gw / 2)), int(round(cy - gh / 2)))

    def free(self, text: str, bbox: tuple[int, int, int, int], align: str = "centre", height: float | None = None) -> None:
        """A handwritten string in a box or on a line: digits plus ',', '.', '/' and '-' marks."""
        x, y, w, h = bbox
        dh = height if height is not None else self.pen.size * h
        glyphs: list[tuple[str, np.ndarray | None, int]] = []
        for ch in text:
            if ch.isdigit():
                g = self._glyph(ch, dh * self.rng.uniform(0.92, 1.08))
                glyphs.append((ch, g, g.shape[1]))
            else:
                glyphs.append((ch, None, int(dh * (0.25 if ch in ",." else 0.45))))
        gaps = []
        for _ in glyphs[1:]:
            if self.rng.random() < self.pen.touch:
                gaps.append(int(-self.rng.uniform(0.02, 0.12) * dh))  # touching neighbours
            else:
                gaps.append(int(self.pen.spacing * dh * 0.6 * self.rng.uniform(0.6, 1.4)))
        total = sum(g[2] for g in glyphs) + sum(gaps)
        if total > w * 0.94:  # writers squeeze to fit the box
            factor = w * 0.94 / total
            return self.free(text, bbox, align, dh * factor)
        slack = w - total
        left = x + (slack / 2 if align == "centre" else slack * self.rng.uniform(0.05, 0.3))
        base = y + h / 2 + dh / 2 + self.rng.normal(0, 0.05) * h  # common baseline
        pos = left
        t = max(1, int(round(dh * 0.09 * (1.0 - self.pen.threshold) * 1.6)))
        for i, (ch, g, gw) in enumerate(glyphs):
            drift = self.rng.normal(0, 0.03) * dh
            if g is not None:
                _paste(self.c.hand, g, int(round(pos)), int(round(base - g.shape[0] + drift)))
            else:
                self._mark(ch, int(round(pos)), int(round(base)), gw, dh, t)
            pos += gw + (gaps[i] if i < len(gaps) else 0)

    def _mark(self, ch: str, x: int, base: int, w: int, dh: float, t: int) -> None:
        mask = np.zeros_like(self.c.hand, dtype=np.uint8)
        cx = x + w // 2
        if ch == ".":
            cv2.circle(mask, (cx, base - t), max(1, t), 255, -1, cv2.LINE_AA)
        elif ch == ",":
            cv2.line(mask, (cx + t, base - t), (cx - t, base + int(dh * 0.15)), 255, t, cv2.LINE_AA)
        elif ch == "-":
            cv2.line(mask, (x, base - int(dh / 2)), (x + w, base - int(dh / 2)), 255, t, cv2.LINE_AA)
        elif ch == "/":
            cv2.line(mask, (x, base), (x + w, base - int(dh)), 255, t, cv2.LINE_AA)
        np.maximum(self.c.hand, mask.astype(np.float32) / 255.0 * self.pen.darkness, out=self.c.hand)

    def scribble(self, bbox: tuple[int, int, int, int]) -> None:
        """A signature-like scribble: a smooth random curve (never digits)."""
        x, y, w, h = bbox
        n = 14
        xs = np.linspace(x, x + w, n) + self.rng.normal(0, w * 0.03, n)
        ys = y + h / 2 + self.rng.normal(0, h * 0.3, n)
        pts = np.stack([xs, ys], 1)
        t = np.linspace(0, 1, 200)
        curve = np.stack([np.interp(t * (n - 1), np.arange(n), pts[:, k]) for k in (0, 1)], 1)
        curve = cv2.GaussianBlur(curve.reshape(-1, 1, 2).astype(np.float32), (1, 9), 0).reshape(-1, 2)
        mask = np.zeros_like(self.c.hand, dtype=np.uint8)
        cv2.polylines(mask, [curve.astype(np.int32)], False, 255, max(1, self.c.px(0.4)), cv2.LINE_AA)
        np.maximum(self.c.hand, mask.astype(np.float32) / 255.0 * self.pen.darkness, out=self.c.hand)
