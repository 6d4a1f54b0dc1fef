"""Overlay PNGs: the page with what was read drawn on it, for a person to check at a glance.

Field boxes are green when the field is ``ok`` and orange, with a tinted fill, when it needs
review; its value is written beside the box, where it hides the least ink. A bar under each
digit shows how the field was cut; a digit whose confidence is under the threshold gets a red
bar and frame and is red in the value. Large pages are scaled down so an
overlay stays a few hundred KB yet the handwriting stays legible next to the readings.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from formreader.output.writers import atomic_write
from formreader.results import BBox, PageResult

MAX_SIDE = 1800  # px: a 300 dpi letter page becomes ~1400 x 1800, digits ~30 px tall

OK = (0, 140, 0)
REVIEW = (235, 110, 0)
REVIEW_FILL = (255, 200, 0, 60)
LOW = (220, 0, 0)
DIGIT = (30, 90, 230)
ERROR = (200, 0, 0)


def draw_overlay(gray: np.ndarray, result: PageResult, threshold: float,
                 max_side: int = MAX_SIDE) -> np.ndarray:
    """The annotated page as an RGB uint8 array (pure: no I/O)."""
    from PIL import Image, ImageDraw

    height, width = gray.shape[:2]
    scale = min(1.0, max_side / max(height, width, 1))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    page = Image.fromarray(np.ascontiguousarray(gray, dtype=np.uint8), "L")
    if scale < 1.0:
        page = page.resize(size, Image.Resampling.LANCZOS)
    # Fade the paper a little so the annotations are what the eye finds first.
    faded = page.point(lambda v: 70 + v * 185 // 255)
    canvas = Image.merge("RGB", (faded, faded, faded)).convert("RGBA")

    tint = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    tint_draw = ImageDraw.Draw(tint)
    for fld in result.fields:
        if fld.status != "ok":
            tint_draw.rectangle(_box(fld.bbox, scale), fill=REVIEW_FILL)
    canvas = Image.alpha_composite(canvas, tint).convert("RGB")

    draw = ImageDraw.Draw(canvas)
    label_font = _font(max(12, round(34 * scale)))
    line = max(1, round(4 * scale))
    ink = _integral(np.asarray(page) < 160)
    boxes = [_box(f.bbox, scale) for f in result.fields]
    taken: list[tuple[int, int, int, int]] = list(boxes)  # labels must not hide other fields
    for fld, (x0, y0, x1, y1) in zip(result.fields, boxes):
        color = OK if fld.status == "ok" else REVIEW
        draw.rectangle((x0, y0, x1, y1), outline=color, width=line + 1)
        lows = [dig.confidence < threshold for dig in fld.digits]
        for dig, low in zip(fld.digits, lows):
            # A bar under each digit shows how the field was cut without drawing over strokes;
            # an unsure digit also gets a red frame, set off from its ink.
            dx0, dy0, dx1, dy1 = _box(dig.bbox, scale)
            draw.line((dx0, dy1 + line, dx1, dy1 + line), fill=LOW if low else DIGIT, width=line)
            if low:
                pad = line + 2
                draw.rectangle((dx0 - pad, dy0 - pad, dx1 + pad, dy1 + pad), outline=LOW, width=line)
        # The value beside the box, its unsure digits in red.
        if fld.value and fld.value == "".join(d.value for d in fld.digits):
            parts = [(d.value, LOW if low else color) for d, low in zip(fld.digits, lows)]
        else:
            parts = [(fld.value or "-", color)]
        if fld.status != "ok":
            parts.append((f" ? {fld.confidence:.2f}", color))
        text = "".join(t for t, _ in parts)
        spot = _place(draw, text, label_font, (x0, y0, x1, y1), 2 * line, taken, ink)
        taken.append(spot)
        _chip(draw, spot, parts, label_font)
    if result.error is not None:
        text = f"ERROR: {result.error}"
        font = _font(max(12, round(36 * scale)))
        _chip(draw, _text_box(draw, text, font, (0, 0), "below"), [(text, ERROR)], font)
    return np.asarray(canvas, dtype=np.uint8)


def write_overlay(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Save an overlay PNG atomically (temp file + rename): a reader never sees half a PNG."""
    from PIL import Image

    path = Path(path)
    # An adaptive 32-colour palette: a third of the size of RGB (130 KB for a letter page) and
    # indistinguishable to a reader; the octree method is fast and deterministic.
    picture = Image.fromarray(image).quantize(32, method=Image.Quantize.FASTOCTREE)
    with atomic_write(path, binary=True) as fh:
        picture.save(fh, "PNG", compress_level=6)
    return path


def overlay_name(stem: str, page: int) -> str:
    return f"{stem}-p{page}.png"


def overlay_stems(sources: Sequence[str | os.PathLike[str]]) -> list[str]:
    """A file-name stem per input, unique within the batch and the same on every run.

    ``a/scan.png`` and ``b/scan.png`` (or ``scan.png`` and ``scan.pdf``) would overwrite each
    other's overlays; stems that collide get a short hash of the full path appended.
    """
    stems = [Path(s).stem for s in sources]
    counts = Counter(stems)
    out = []
    for src, stem in zip(sources, stems):
        if counts[stem] > 1:
            digest = hashlib.sha1(os.fsencode(os.path.normpath(os.fspath(src)))).hexdigest()[:8]
            stem = f"{stem}-{digest}"
        out.append(stem)
    return out


def _box(bbox: BBox, scale: float) -> tuple[int, int, int, int]:
    x, y, w, h = bbox
    return (round(x * scale), round(y * scale), round((x + w) * scale) - 1, round((y + h) * scale) - 1)


def _text_box(draw: Any, text: str, font: Any, anchor: tuple[int, int],
              side: str) -> tuple[int, int, int, int]:
    """The chip rectangle for ``text`` whose near edge touches ``anchor`` on ``side``."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    w, h = right - left + 4, bottom - top + 4
    x, y = anchor
    if side == "above":
        return (x, y - h, x + w, y)
    if side == "left":
        return (x - w, y, x, y + h)
    return (x, y, x + w, y + h)  # "right" / "below": anchor is the top-left corner


def _place(draw: Any, text: str, font: Any, box: tuple[int, int, int, int], gap: int,
           taken: list[tuple[int, int, int, int]], ink: np.ndarray) -> tuple[int, int, int, int]:
    """The spot beside the field whose chip hides the least ink and no other field or label.

    Forms pack boxes tightly and print the expected answer next to each box: a label that lands
    on it would hide exactly what the reader wants to compare the reading with.
    """
    x0, y0, x1, y1 = box
    right, below = _text_box(draw, text, font, (x1 + gap, y0), "right"), _text_box(draw, text, font, (x0, y1 + gap), "below")
    w, h = right[2] - right[0], right[3] - right[1]
    candidates = [
        right,
        (x1 + gap, y1 - h, x1 + gap + w, y1),  # right, bottom-aligned
        below,
        (x1 - w, y1 + gap, x1, y1 + gap + h),  # below, right-aligned
        (x0, y0 - gap - h, x0 + w, y0 - gap),  # above
        (x1 - w, y0 - gap - h, x1, y0 - gap),  # above, right-aligned
        (x0 - gap - w, y0, x0 - gap, y0 + h),  # left
    ]
    height, width = ink.shape[0] - 1, ink.shape[1] - 1
    best, best_cost = None, None
    for cand in candidates:
        if cand[0] < 0 or cand[1] < 0 or cand[2] > width or cand[3] > height:
            continue
        clash = any(_overlap(cand, other) for other in taken if other != box)
        cost = (clash, _ink_in(ink, cand))
        if best_cost is None or cost < best_cost:
            best, best_cost = cand, cost
    return best if best is not None else _clamp(right, (width, height))


def _integral(mask: np.ndarray) -> np.ndarray:
    """Summed-area table: the ink under any rectangle in four lookups."""
    out = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), np.int64)
    out[1:, 1:] = mask.astype(np.int64).cumsum(0).cumsum(1)
    return out


def _ink_in(table: np.ndarray, rect: tuple[int, int, int, int]) -> int:
    x0, y0, x1, y1 = rect
    return int(table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0])


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _clamp(rect: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = rect
    dx = max(0, -x0) - max(0, x1 - size[0])
    dy = max(0, -y0) - max(0, y1 - size[1])
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def _chip(draw: Any, rect: tuple[int, int, int, int], parts: list[tuple[str, tuple[int, int, int]]],
          font: Any) -> None:
    """Coloured text runs on a white chip, readable over handwriting and box lines."""
    x0, y0, _, _ = rect
    text = "".join(t for t, _ in parts)
    left, top, _, _ = draw.textbbox((0, 0), text, font=font)
    draw.rectangle(rect, fill=(255, 255, 255))
    x = x0 + 2 - left
    for run, color in parts:
        draw.text((x, y0 + 2 - top), run, font=font, fill=color)
        x += draw.textlength(run, font=font)


@lru_cache(maxsize=16)
def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (FreeType)
    except (TypeError, ImportError, OSError):  # pragma: no cover - Pillow built without FreeType
        return ImageFont.load_default()
