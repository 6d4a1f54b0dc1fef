"""Makes the "hand-made photo" test images of this folder from the real NIST form in
../shared/data/scans/nist-hsf-f0000.png (public domain): one handwritten mark cut from the form,
composited onto lit, shaded, ruled or squared paper, seen in slight perspective, blurred and
noisy. Seeded: running it again writes the same files.

    python tests/data/photos/make_photos.py
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
PAGE = HERE.parents[3] / "shared" / "data" / "scans" / "nist-hsf-f0000.png"
# name: (rows, cols) of the mark on the page (the "0123456789" field and the upper-case line)
MARKS = {
    "3": (slice(830, 900), slice(315, 365)),
    "4": (slice(830, 900), slice(370, 418)),
    "7": (slice(830, 900), slice(505, 550)),
    "8": (slice(825, 900), slice(554, 592)),
    "2": (slice(835, 900), slice(262, 312)),
    "H": (slice(1950, 2026), slice(1580, 1650)),
    "X": (slice(1950, 2026), slice(1728, 1800)),
    "W": (slice(1950, 2026), slice(1891, 1970)),
}
# file: (mark or None for blank paper, paper, seed)
PHOTOS = {
    "digit-3-shadow.png": ("3", "shadow", 1),
    "digit-4-lined-shadow.png": ("4", "lined shadow", 2),
    "digit-7-grid.png": ("7", "grid", 3),
    "digit-8-gradient.png": ("8", "gradient", 4),
    "digit-2-grid-shadow.png": ("2", "grid shadow", 5),
    "letter-H-lined.png": ("H", "lined", 6),
    "letter-X-shadow.png": ("X", "shadow", 7),
    "letter-W-grid.png": ("W", "grid", 8),
    "blank-lined-shadow.png": (None, "lined shadow", 9),
}


def paper(rng: np.random.Generator, h: int, w: int, kind: str) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    t = (np.cos(a) * (xx - w / 2) + np.sin(a) * (yy - h / 2)) / (0.5 * np.hypot(w, h))
    light = rng.uniform(200, 235) * (0.6 + 0.4 * (t + 1) / 2)
    if "shadow" in kind:  # a hand's shadow: a soft-edged dark wedge from one side
        b = rng.uniform(0, 2 * np.pi)
        d = np.cos(b) * (xx - w / 2) + np.sin(b) * (yy - h / 2) - rng.uniform(-0.2, 0.2) * min(h, w)
        light *= 1 - 0.55 * (1 / (1 + np.exp(-d / rng.uniform(3, 8))))
    lines = np.zeros((h, w), np.uint8)
    step = int(rng.uniform(0.15, 0.2) * h)
    for y in range(int(rng.integers(0, step)), h, step):
        if "lined" in kind or "grid" in kind:
            cv2.line(lines, (0, y), (w, y), 255, 1)
    if "grid" in kind:
        for x in range(int(rng.integers(0, step)), w, step):
            cv2.line(lines, (x, 0), (x, h), 255, 1)
    return light * (1 - 0.3 * lines / 255.0)


def main() -> None:
    page = cv2.imread(str(PAGE), cv2.IMREAD_GRAYSCALE)
    for name, (mark, kind, seed) in PHOTOS.items():
        rng = np.random.default_rng(seed)
        h, w = 200, 180
        ink = np.zeros((h, w), np.float32)
        if mark is not None:
            cut = (page[MARKS[mark]] < 128).astype(np.float32)
            s = rng.uniform(0.5, 0.6) * h / cut.shape[0]
            cut = cv2.resize(cut, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            y = (h - cut.shape[0]) // 2 + int(rng.integers(-12, 13))
            x = (w - cut.shape[1]) // 2 + int(rng.integers(-12, 13))
            ink[y : y + cut.shape[0], x : x + cut.shape[1]] = cut
        gray = paper(rng, h, w, kind) * (1 - 0.8 * ink)
        corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        moved = corners + rng.uniform(-6, 6, corners.shape).astype(np.float32)
        gray = cv2.warpPerspective(gray, cv2.getPerspectiveTransform(corners, moved), (w, h),
                                   borderMode=cv2.BORDER_REFLECT)
        gray = cv2.GaussianBlur(gray, (0, 0), 0.8) + rng.normal(0, 2.0, (h, w))
        cv2.imwrite(str(HERE / name), np.clip(gray + 0.5, 0, 255).astype(np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])


if __name__ == "__main__":
    main()
