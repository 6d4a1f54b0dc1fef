"""Generated form pages for tests: ruled boxes, comb fields and MNIST *test* digits painted on
paper, with the truth (values and positions) known.

Digits are painted from their anti-aliased grey levels, so the binarizer sees what it would see
on a scan. Every function is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

INK = 30  # grey level of the pen
PAPER = 245


@dataclass
class Truth:
    value: str
    rect: tuple[int, int, int, int]  # x, y, w, h of the box (or of the ink when free)


@dataclass
class Page:
    """A grey page being drawn on (uint8, dark ink on light paper) and what was written."""

    width: int
    height: int
    gray: np.ndarray = field(init=False)
    truth: list[Truth] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gray = np.full((self.height, self.width), PAPER, np.uint8)

    def box(self, x: int, y: int, w: int, h: int, thickness: int = 2) -> None:
        cv2.rectangle(self.gray, (x, y), (x + w - 1, y + h - 1), INK, thickness)

    def comb(self, x: int, y: int, cell: int, h: int, n: int, thickness: int = 2) -> list[tuple[int, int]]:
        """A comb field of ``n`` cells; returns each cell's (x, y) top-left inner corner."""
        self.box(x, y, cell * n, h, thickness)
        for i in range(1, n):
            cv2.line(self.gray, (x + i * cell, y), (x + i * cell, y + h - 1), INK, thickness)
        return [(x + i * cell + thickness, y + thickness) for i in range(n)]

    def tick_comb(self, x: int, y: int, cell: int, h: int, n: int, thickness: int = 2,
                  tick: float = 0.3, hanging: bool = False) -> list[tuple[int, int]]:
        """A comb field whose cells are divided by short ticks ``tick`` x ``h`` long, rising
        from the bottom ruling (or hanging from the top one); returns each cell's (x, y)
        top-left inner corner."""
        self.box(x, y, cell * n, h, thickness)
        t = int(round(tick * h))
        for i in range(1, n):
            y0, y1 = (y, y + t) if hanging else (y + h - 1 - t, y + h - 1)
            cv2.line(self.gray, (x + i * cell, y0), (x + i * cell, y1), INK, thickness)
        return [(x + i * cell + thickness, y + thickness) for i in range(n)]

    def text(self, s: str, x: int, y: int, scale: float = 0.6) -> None:
        """Machine-printed text (a label): never a field."""
        cv2.putText(self.gray, s, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, INK, 1, cv2.LINE_AA)

    def paint(self, digit: np.ndarray, x: int, y: int, height: int) -> tuple[int, int, int, int]:
        """Paint a 28x28 MNIST digit so that its ink is ``height`` px tall with its top-left
        ink corner at (x, y); returns the ink rect."""
        ink = crop_ink(digit)
        scale = height / ink.shape[0]
        w = max(1, int(round(ink.shape[1] * scale)))
        big = cv2.resize(ink.astype(np.float32) / 255.0, (w, height), interpolation=cv2.INTER_CUBIC)
        big = np.clip(big, 0, 1)
        region = self.gray[y : y + height, x : x + w]
        big = big[: region.shape[0], : region.shape[1]]
        shade = (PAPER - (PAPER - INK) * big).astype(np.uint8)
        np.minimum(region, shade, out=region)
        return x, y, w, height

    def write(self, digits: list[np.ndarray], x: int, y: int, height: int, gap: int) -> int:
        """Paint digits left to right with ``gap`` px between their ink (negative: overlap);
        returns the x after the last digit."""
        for d in digits:
            x0, _, w, _ = self.paint(d, x, y, height)
            x = x0 + w + gap
        return x - gap


def crop_ink(digit: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(digit.max(axis=1) > 40)
    cols = np.flatnonzero(digit.max(axis=0) > 40)
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def ink_width(digit: np.ndarray, height: int) -> int:
    ink = crop_ink(digit)
    return max(1, int(round(ink.shape[1] * height / ink.shape[0])))


def pick_digits(images: np.ndarray, labels: np.ndarray, recognizer, per_class: int = 6,
                pool: int = 400, min_conf: float = 0.98) -> dict[int, list[np.ndarray]]:
    """Per class, the first MNIST test digits that the model reads alone with confidence.

    Page tests then measure the page pipeline (boxes, cuts, merges), not the model's hardest
    digits. Deterministic: the test set's order decides.
    """
    from formreader.imaging.normalize import to_mnist
    from formreader.recognizer.model import PAGE_SCREEN_CONFIDENCE

    idx = np.arange(min(pool * 10, len(images)))
    crops = np.stack([to_mnist(images[i] >= 128) for i in idx])
    # As the page scanner reads them: a digit only the screen is sure of is no plain digit.
    cls, probs = recognizer.classify(crops, screen_confidence=PAGE_SCREEN_CONFIDENCE)
    out: dict[int, list[np.ndarray]] = {d: [] for d in range(10)}
    for i, c, p in zip(idx, cls, probs):
        lab = int(labels[i])
        if c == lab and p[lab] >= min_conf and len(out[lab]) < per_class:
            out[lab].append(images[i])
    return out


def digits_for(value: str, bank: dict[int, list[np.ndarray]], offset: int = 0) -> list[np.ndarray]:
    """MNIST images spelling ``value``, cycling through each class's bank."""
    return [bank[int(ch)][(offset + i) % len(bank[int(ch)])] for i, ch in enumerate(value)]


def uneven_lighting(gray: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """A shadow across the page: brightness falls to (1 - strength) at one corner."""
    h, w = gray.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 - strength * (xx / w * 0.6 + yy / h * 0.4)
    return np.clip(gray.astype(np.float32) * light, 0, 255).astype(np.uint8)


def rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    """The page rotated by ``angle`` degrees (counter-clockwise), paper filling the corners."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    return cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=PAPER)
