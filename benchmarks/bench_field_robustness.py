"""Field images under the damage real captures bring: how the reading holds up.

Takes real parish crops of the development books (``tests/parish.py``; the held-out books are
left alone) and reads each one as it is and after one of the degradations below, seeded, one
at a time. Per degradation it prints how many crops are read right, how many are ok, and how
many are wrong but ok, beside the same crops undamaged:

- ``inverted``: white ink on black (a negative scan);
- ``jpeg-20``: JPEG at quality 20;
- ``noise-12``: Gaussian noise of 12 grey levels;
- ``blur-1.5``: Gaussian blur, sigma 1.5 px;
- ``low-contrast``: paper and ink squeezed into grey levels 170-255;
- ``stain``: a dark blotch across a third of the crop (down to 55% brightness);
- ``shadow``: the light falling off across the crop (a photo, a curled page);
- ``bleed-through``: another crop's writing, mirrored, at a quarter of its darkness;
- ``security-pattern``: fine wavy lines across the whole crop, as on cheque paper;
- ``thick-pen``: strokes a pixel wider each side (a felt pen);
- ``thin-pen``: strokes half a pixel narrower each side (a fine nib);
- ``half-size``: scanned at half the resolution;
- ``colour``: blue ink on cream paper (read from the colour image, as a user's file is).

    python benchmarks/bench_field_robustness.py [--crops 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import parish  # noqa: E402  (tests/parish.py: the crops and their split)

Damage = Callable[[np.ndarray, np.random.Generator, np.ndarray], np.ndarray]


def _jpeg(g: np.ndarray, quality: int) -> np.ndarray:
    _, data = cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def _blotch(shape: tuple[int, int], rng: np.random.Generator, depth: float, size: float) -> np.ndarray:
    """A smooth dark blotch (1 = untouched, down to ``1 - depth``) of ``size`` of the crop."""
    h, w = shape
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = ((yy - cy) / (size * h)) ** 2 + ((xx - cx) / (size * w)) ** 2
    return 1.0 - depth * np.exp(-r2)


def _pattern(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Fine wavy lines (darkness 0-1) every few pixels across the crop."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(5.0, 8.0)
    wave = yy + 3.0 * np.sin(xx / rng.uniform(6.0, 12.0) + rng.uniform(0, 6.3))
    return (np.cos(2 * np.pi * wave / period) > 0.8).astype(np.float32)


def _apply_dark(g: np.ndarray, dark: np.ndarray, amount: float) -> np.ndarray:
    """``g`` with ``dark`` (0-1) laid over it at ``amount`` of black, as ink on ink darkens."""
    return np.clip(g.astype(np.float32) * (1.0 - amount * dark), 0, 255).astype(np.uint8)


def damages(other: Callable[[], np.ndarray]) -> dict[str, Damage]:
    """The degradations by name; ``other`` gives another crop (for bleed-through)."""
    k3 = np.ones((3, 3), np.uint8)

    def bleed(g: np.ndarray, rng: np.random.Generator, _: np.ndarray) -> np.ndarray:
        back = cv2.resize(cv2.flip(other(), 1), (g.shape[1], g.shape[0]))
        return _apply_dark(g, (255.0 - back) / 255.0, 0.25)

    def half(g: np.ndarray, rng: np.random.Generator, _: np.ndarray) -> np.ndarray:
        size = (max(1, g.shape[1] // 2), max(1, g.shape[0] // 2))
        return cv2.resize(g, size, interpolation=cv2.INTER_AREA)

    def thin(g: np.ndarray, rng: np.random.Generator, _: np.ndarray) -> np.ndarray:
        big = cv2.resize(g, (2 * g.shape[1], 2 * g.shape[0]), interpolation=cv2.INTER_CUBIC)
        return cv2.resize(cv2.dilate(big, k3), (g.shape[1], g.shape[0]), interpolation=cv2.INTER_AREA)

    def shadow(g: np.ndarray, rng: np.random.Generator, _: np.ndarray) -> np.ndarray:
        ramp = np.linspace(1.0, rng.uniform(0.45, 0.6), g.shape[1], dtype=np.float32)[None, :]
        ramp = ramp if rng.random() < 0.5 else ramp[:, ::-1]
        return np.clip(g * ramp, 0, 255).astype(np.uint8)

    def colour(g: np.ndarray, rng: np.random.Generator, bgr: np.ndarray) -> np.ndarray:
        ink = (255.0 - g.astype(np.float32))[..., None] / 255.0
        paper = np.array([205.0, 235.0, 245.0], np.float32)  # cream (B, G, R)
        pen = np.array([150.0, 40.0, 20.0], np.float32)  # blue ink
        return np.clip(paper * (1 - ink) + pen * ink, 0, 255).astype(np.uint8)

    return {
        "inverted": lambda g, rng, c: 255 - g,
        "jpeg-20": lambda g, rng, c: _jpeg(g, 20),
        "noise-12": lambda g, rng, c: np.clip(g + rng.normal(0, 12, g.shape), 0, 255).astype(np.uint8),
        "blur-1.5": lambda g, rng, c: cv2.GaussianBlur(g, (0, 0), 1.5),
        "low-contrast": lambda g, rng, c: (170 + g.astype(np.float32) * (85 / 255)).astype(np.uint8),
        "stain": lambda g, rng, c: np.clip(g * _blotch(g.shape, rng, 0.45, 0.3), 0, 255).astype(np.uint8),
        "shadow": shadow,
        "bleed-through": bleed,
        "security-pattern": lambda g, rng, c: _apply_dark(g, _pattern(g.shape, rng), 0.3),
        "thick-pen": lambda g, rng, c: cv2.erode(g, k3),
        "thin-pen": thin,
        "half-size": half,
        "colour": colour,
    }


def read(images: list[np.ndarray], recognizer) -> list:
    """Each image read as one field image, as ``formreader scan --mode field`` reads a file
    (colour images are made grey the way a file's pixels are)."""
    from PIL import Image

    from formreader.io.pages import _to_gray
    from formreader.reading.field_read import read_field_images
    from formreader.results import ScanOptions

    grays = [_to_gray(Image.fromarray(im[..., ::-1])) if im.ndim == 3 else im for im in images]
    return read_field_images(grays, recognizer, ScanOptions(field_mode="field"))


def tally(fields: list, labels: list[str]) -> tuple[int, int, int]:
    right = sum(f.value == lab for f, lab in zip(fields, labels))
    ok = sum(f.status == "ok" for f in fields)
    wrong_ok = sum(f.status == "ok" and f.value != lab for f, lab in zip(fields, labels))
    return right, ok, wrong_ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crops", type=int, default=400, help="development crops, spread over the books")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from formreader.recognizer.model import load_model

    rows = parish.crops("dev")
    rows = rows[:: max(1, len(rows) // args.crops)][: args.crops]
    grays = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _, _ in rows]
    labels = [lab for _, lab, _ in rows]
    rec = load_model()
    rng = np.random.default_rng(args.seed)
    base = tally(read(grays, rec), labels)
    n = len(rows)
    print(f"{n} development crops (every {max(1, len(parish.crops('dev')) // args.crops)}th), seed {args.seed}")
    print("| crops | right | ok | wrong but ok |\n|---|---|---|---|")
    print(f"| as scanned | {base[0] / n:.1%} | {base[1] / n:.1%} | {base[2]} |")
    for name, damage in damages(lambda: grays[int(rng.integers(len(grays)))]).items():
        damaged = [damage(g, rng, g) for g in grays]
        right, ok, wrong_ok = tally(read(damaged, rec), labels)
        print(f"| {name} | {right / n:.1%} | {ok / n:.1%} | {wrong_ok} |", flush=True)


if __name__ == "__main__":
    main()
