"""A seeded generator of photo-like pictures of one mark: MNIST test digits rendered onto
gradients, shadows, ruled and squared paper; blank pictures; letters and symbols. Shared by
tests/unit/reading/test_single_digit.py and benchmarks/bench_predict_photos.py (other seeds)."""

from __future__ import annotations

import cv2
import numpy as np

CONDITIONS = ("plain", "gradient", "shadow", "lined", "grid")
LETTERS = ("A", "B", "E", "H", "K", "M", "R", "W", "X")
SYMBOLS = ("+", "%", "#")


def _canvas(rng: np.random.Generator) -> tuple[int, int]:
    """A small photo's size: 160-320 px high, a little narrower or wider than high."""
    h = int(rng.integers(160, 320))
    return h, int(h * rng.uniform(0.75, 1.35))


def _paper(rng: np.random.Generator, shape: tuple[int, int], condition: str) -> np.ndarray:
    """The paper's brightness: even, a gradient (down to 45-70% across), or a gradient with a
    shadow (a straight edge, 2-12 px soft, 35-60% of the light left) anywhere in the picture."""
    h, w = shape
    paper = np.full(shape, rng.uniform(175, 240), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if condition in ("gradient", "shadow"):
        a = rng.uniform(0, 2 * np.pi)
        t = (np.cos(a) * (xx - w / 2) + np.sin(a) * (yy - h / 2)) / (0.5 * np.hypot(w, h))
        low = rng.uniform(0.45, 0.7)
        paper *= low + (1 - low) * (t + 1) / 2
    if condition == "shadow":
        a = rng.uniform(0, 2 * np.pi)
        d = np.cos(a) * (xx - w / 2) + np.sin(a) * (yy - h / 2) - rng.uniform(-0.25, 0.25) * min(h, w)
        inside = 1 / (1 + np.exp(-d / rng.uniform(2, 12)))
        paper *= 1 - (1 - rng.uniform(0.35, 0.6)) * inside
    return paper


def _rulings(rng: np.random.Generator, shape: tuple[int, int], condition: str) -> np.ndarray:
    """How much light the printed lines take (0-1): ruled or squared every 13-22% of the short
    side, 1-2 px, 15-45% dark, turned up to 3 degrees."""
    h, w = shape
    if condition not in ("lined", "grid"):
        return np.zeros(shape, np.float32)
    step = int(rng.uniform(0.13, 0.22) * min(h, w))
    thick = int(rng.integers(1, 3))
    big = np.zeros((2 * h, 2 * w), np.uint8)
    start = int(rng.integers(0, step))
    for y in range(start, 2 * h, step):
        cv2.line(big, (0, y), (2 * w, y), 255, thick)
    if condition == "grid":
        for x in range(start, 2 * w, step):
            cv2.line(big, (x, 0), (x, 2 * h), 255, thick)
    m = cv2.getRotationMatrix2D((w, h), rng.uniform(-3, 3), 1.0)
    big = cv2.warpAffine(big, m, (2 * w, 2 * h))
    return big[h // 2 : h // 2 + h, w // 2 : w // 2 + w].astype(np.float32) / 255.0 * rng.uniform(0.15, 0.45)


def photo(rng: np.random.Generator, ink: np.ndarray, condition: str) -> np.ndarray:
    """A uint8 "photo" of ``ink`` (0-1 pen cover, the canvas's shape) on paper of ``condition``:
    pen 65-90% dark, then focus blur, sensor noise, a slight perspective and JPEG."""
    shape = ink.shape
    pen = rng.uniform(0.1, 0.35)
    gray = _paper(rng, shape, condition) * (1 - _rulings(rng, shape, condition)) * (1 - (1 - pen) * ink)
    gray = cv2.GaussianBlur(gray, (0, 0), rng.uniform(0.4, 1.2))
    gray = gray + rng.normal(0, rng.uniform(1.5, 5), gray.shape).astype(np.float32)
    h, w = shape
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    moved = corners + rng.uniform(-0.03, 0.03, corners.shape).astype(np.float32) * min(h, w)
    gray = cv2.warpPerspective(gray, cv2.getPerspectiveTransform(corners, moved), (w, h),
                               borderMode=cv2.BORDER_REFLECT)
    _, buf = cv2.imencode(".jpg", np.clip(gray + 0.5, 0, 255).astype(np.uint8),
                          [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 92))])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def digit_photo(digit: np.ndarray, condition: str, seed: int) -> np.ndarray:
    """An MNIST digit (28x28, white on black) 45-85% of the short side high, anywhere."""
    rng = np.random.default_rng(seed)
    h, w = _canvas(rng)
    size = int(rng.uniform(0.45, 0.85) * min(h, w))
    ink = np.zeros((h, w), np.float32)
    y, x = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    big = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    ink[y : y + size, x : x + size] = np.clip(big, 0, 1)
    return photo(rng, ink, condition)


def symbol_photo(text: str, condition: str, seed: int) -> np.ndarray:
    """A letter or symbol as a hand might write it: cv2.putText (OpenCV 5 draws every Hershey
    face, the script ones included, in one sans face), pen 6-12% of its height wide, slanted
    -17 to +9 degrees and wobbled by 4% of its height."""
    rng = np.random.default_rng(seed)
    h, w = _canvas(rng)
    size = rng.uniform(0.45, 0.8) * min(h, w)
    font = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
    thick = max(2, int(size * rng.uniform(0.06, 0.12)))
    scale = cv2.getFontScaleFromHeight(font, int(size), 1)
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    canvas = np.zeros((h, w), np.uint8)
    x = (w - tw) // 2 + int(rng.integers(-w // 12, w // 12 + 1))
    y = (h + th) // 2 + int(rng.integers(-h // 12, h // 12 + 1))
    cv2.putText(canvas, text, (x, y), font, scale, 255, thick, cv2.LINE_AA)
    shear = rng.uniform(-0.3, 0.15)
    canvas = cv2.warpAffine(canvas, np.float32([[1, shear, -shear * h / 2], [0, 1, 0]]), (w, h))
    sigma, amount = 0.15 * min(h, w), 0.04 * size
    field = [cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), sigma) for _ in range(2)]
    dx, dy = (f * amount / (np.abs(f).max() + 1e-6) for f in field)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ink = cv2.remap(canvas.astype(np.float32) / 255.0, xx + dx, yy + dy, cv2.INTER_LINEAR)
    return photo(rng, ink, condition)


def blank_photo(condition: str, seed: int) -> np.ndarray:
    """Paper of ``condition`` with nothing written on it."""
    rng = np.random.default_rng(seed)
    return photo(rng, np.zeros(_canvas(rng), np.float32), condition)


# --- the tests ----------------------------------------------------------------------------------
