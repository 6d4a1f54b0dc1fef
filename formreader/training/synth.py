"""Synthetic scans of forms filled in with real handwriting (MNIST *test* digits) and their truth.

Golden samples need two things real scans rarely come with: exact truth, and a known layout.
This module draws the printed form (text, boxes, comb fields) at the chosen resolution, writes
MNIST test digits into it with the variation real writers show (size, slant, stroke width, digits
touching the box lines or each other), then degrades the page the way a scanner does (skew, small
shift and scale, grey uneven paper, optical blur, noise, dust, JPEG artefacts).

Only the MNIST *test* split is used, so the shipped model (trained on the train split) is scored on
digits it has never seen. Everything is drawn from one ``numpy`` generator seeded per sample:
the same seed gives the same pixels.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from formreader.rules.validate import aba_check_digit, format_amount
from formreader.training.drawing import Canvas, Digits, Writer

KINDS = ("postal", "cheque", "hsf", "numbers")
DPIS = (150, 200, 240, 300)
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
_SCRIPT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX
_WORDS = ("north", "river", "oak", "maple", "station", "harbor", "mill", "lake", "park", "hill", "green",
          "church", "market", "bridge", "field", "spring", "union", "grove", "valley", "forest")
_NAMES = ("J. Smith", "A. Garcia", "M. Chen", "R. Okafor", "L. Novak", "K. Tanaka", "P. Dubois", "S. Ivanova")


# ------------------------------------------------------------------------------ form kinds

Truth = list[dict[str, Any]]


def _font(rng: np.random.Generator) -> int:
    return int(_FONTS[int(rng.integers(len(_FONTS)))])


def _street(rng: np.random.Generator) -> str:
    return f"{rng.choice(_WORDS).title()} {rng.choice(['Street', 'Road', 'Avenue', 'Lane'])}"


def _postal(c: Canvas, w: Writer, rng: np.random.Generator) -> Truth:
    """An envelope address label: printed name and street, ZIP and ZIP+4 in comb boxes."""
    font = _font(rng)
    c.text("DELIVER TO", 8, 12, 3.2, font, bold=True)
    c.text(str(rng.choice(_NAMES)), 12, 24, 4.0, _SCRIPT, layer="hand")
    c.hline(8, 26, 110)
    c.text(_street(rng), 12, 36, 4.0, _SCRIPT, layer="hand")
    c.hline(8, 38, 110)
    c.text(f"{rng.choice(_WORDS).upper()} CITY, ST", 12, 48, 3.2, font)
    c.text("ZIP CODE", 8, 57, 2.6, font)
    c.text("ZIP+4", 74, 57, 2.6, font)
    cell, hgt = float(rng.uniform(7.0, 8.5)), float(rng.uniform(8.5, 10.0))
    comb = 1.0 if rng.random() < 0.5 else float(rng.uniform(0.3, 0.45))
    zip_box = c.rect(8, 60, 5 * cell, hgt, 5, comb)
    c.text("-", 8 + 5 * cell + 2.0, 60 + hgt * 0.75, 5, font, bold=True)
    plus_box = c.rect(8 + 5 * cell + 7.0, 60, 4 * cell, hgt, 4, comb)
    zip5 = f"{int(rng.integers(1, 100000)):05d}"
    plus4 = f"{int(rng.integers(1, 10000)):04d}" if rng.random() < 0.7 else ""
    w.comb(zip5, zip_box, 5)
    w.comb(plus4, plus_box, 4)
    return [{"name": "zip", "value": zip5, "bbox": zip_box}, {"name": "plus4", "value": plus4, "bbox": plus_box}]


def _words(n: int) -> str:
    ones = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
           "sixteen seventeen eighteen nineteen".split()
    tens = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
    if n < 20:
        return ones[n]
    if n < 100:
        return tens[n // 10] + ("-" + ones[n % 10] if n % 10 else "")
    if n < 1000:
        return ones[n // 100] + " hundred" + (" " + _words(n % 100) if n % 100 else "")
    return _words(n // 1000) + " thousand" + (" " + _words(n % 1000) if n % 1000 else "")


def _cheque(c: Canvas, w: Writer, rng: np.random.Generator) -> Truth:
    """A bank cheque: date in a comb, courtesy amount with separators, routing number (ABA)."""
    font = _font(rng)
    c.text(f"{rng.choice(_WORDS).upper()} SAVINGS BANK", 8, 11, 3.4, font, bold=True)
    c.text(f"{rng.choice(_NAMES)}   {_street(rng)}", 8, 17, 2.2, font)
    c.text("DATE", 96, 14, 2.4, font)
    date = dt.date(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 7 * 365)))
    date_s = date.strftime("%m%d%Y")
    date_box = c.rect(107, 8, 40, 8.5, 8, 1.0 if rng.random() < 0.5 else 0.35)
    c.text("MM   DD   YYYY", 110, 19.5, 1.6, font)
    c.text("PAY TO THE", 8, 27, 2.2, font)
    c.text("ORDER OF", 8, 31, 2.2, font)
    c.text(str(rng.choice(_NAMES)), 30, 30, 4.2, _SCRIPT, layer="hand")
    c.hline(26, 32, 80)
    c.text("$", 110, 31, 4.0, font, bold=True)
    amount_box = c.rect(115, 22, 32, 11)
    cents = int(rng.integers(100, 1_000_000))
    digits = str(cents)
    text = format_amount(digits)
    w.free(text, amount_box, align="right")
    c.text(_words(cents // 100) + f" and {cents % 100:02d}/100", 12, 42, 3.6, _SCRIPT, layer="hand")
    c.hline(8, 44, 112)
    c.text("DOLLARS", 122, 44, 2.4, font)
    c.text("ROUTING NO.", 8, 52, 2.2, font)
    body = "".join(str(int(d)) for d in rng.integers(0, 10, 8))
    routing = body + aba_check_digit(body)
    routing_box = c.rect(8, 54, 54, 8.5, 9, 1.0 if rng.random() < 0.5 else 0.35)
    c.text("MEMO", 70, 61, 2.2, font)
    c.hline(80, 62, 20)
    c.hline(104, 62, 43)
    w.comb(date_s, date_box, 8)
    w.comb(routing, routing_box, 9)
    w.scribble((c.px(106), c.px(52), c.px(38), c.px(9)))
    return [{"name": "date", "value": date_s, "text": date.isoformat(), "bbox": date_box},
            {"name": "amount", "value": digits, "text": text, "bbox": amount_box},
            {"name": "routing", "value": routing, "bbox": routing_box}]


HSF_ROWS = (3, 5, 5, 5, 5, 5)


def _hsf_strings(rng: np.random.Generator) -> list[list[str]]:
    rows = [["0123456789"] * 3]
    for n in HSF_ROWS[1:]:
        rows.append(["".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(2, 7)))) for _ in range(n)])
    return rows


def _hsf(c: Canvas, w: Writer, rng: np.random.Generator) -> Truth:
    """The top of a NIST HSF-style form: header boxes, 28 digit boxes under printed prompts,
    two letter boxes. Box widths follow the prompts' lengths, as on the real forms."""
    font = cv2.FONT_HERSHEY_COMPLEX
    c.text("PLEASE PRINT THE NUMBERS AND LETTERS BELOW AND RETURN FORM TO", 108, 27, 3.0, font, centre=True)
    c.text(f"{rng.choice(_NAMES).upper()}, ROOM {int(rng.integers(1000, 9999))}", 108, 34, 3.0, font, centre=True)
    c.rect(11, 46, 48, 7)
    c.rect(63, 46, 29, 7)
    c.rect(96, 46, 77, 7)
    c.text("This sample of handwriting is being collected for use in testing computer recognition", 17, 58, 1.8, font)
    c.text("of hand printed numbers and letters. Please print the following characters in the boxes.", 11, 61.5, 1.8, font)
    left, right, top, pitch, hgt = 11.0, 163.0, 68.0, 12.3, 7.8
    truth: Truth = []
    for r, strings in enumerate(_hsf_strings(rng)):
        y = top + r * pitch
        if r == 0:
            widths = [48.0] * 3
        else:
            widths = [4.5 * len(s) + 3.5 for s in strings]
        gap = (right - left - sum(widths)) / (len(widths) - 1)
        x = left
        for col, (s, bw) in enumerate(zip(strings, widths)):
            prompt = " ".join(s) if r == 0 else s
            c.text(prompt, x + bw / 2, y - 1.0, 2.0, cv2.FONT_HERSHEY_DUPLEX, bold=True, centre=True)
            box = c.rect(x, y, bw, hgt)
            w.free(s, box)
            truth.append({"name": f"r{r + 1}c{col + 1}", "value": s, "bbox": box})
            x += bw + gap
    letters = "".join(rng.permutation(list("abcdefghijklmnopqrstuvwxyz")))
    y = top + 6 * pitch + 2
    c.text(" ".join(letters), 17, y, 2.0, font, bold=True)
    c.rect(11, y + 1.5, 167, 9)
    c.text("  ".join(letters[: int(rng.integers(12, 20))]), 15, y + 8.5, 4.0, _SCRIPT, layer="hand")
    return truth


def _numbers(c: Canvas, w: Writer, rng: np.random.Generator) -> Truth:
    """Free-standing numbers: a meter-reading card with printed labels and handwritten
    values on ruled lines (no boxes), lengths varying from 3 to 10 digits."""
    font = _font(rng)
    for x, y in ((8, 8), (138, 8), (8, 78), (138, 78)):  # corner registration marks, 4 mm
        c.printed[c.px(y) : c.px(y + 4), c.px(x) : c.px(x + 4)] = 1.0
    c.text("METER READING CARD", 16, 16, 3.6, font, bold=True)
    names = ("customer", "meter", "reading", "phone")
    labels = ("Customer no.", "Meter serial", "Reading (kWh)", "Phone")
    lengths = (int(rng.integers(5, 9)), int(rng.integers(6, 9)), int(rng.integers(3, 7)), 10)
    truth: Truth = []
    for i, (name, label, n) in enumerate(zip(names, labels, lengths)):
        y = 30 + i * 13.5
        c.text(label, 16, y, 2.8, font)
        c.hline(50, y + 1.5, 80)
        value = "".join(str(int(d)) for d in rng.integers(0, 10, n))
        dh = float(rng.uniform(5.5, 8.0))  # digit height in mm; baseline ~1 mm above the rule
        area = (c.px(52), c.px(y + 1.5 - dh - 1.6), c.px(76), c.px(dh + 0.6))
        w.free(value, area, align="left", height=c.px(dh))
        truth.append({"name": name, "value": value, "bbox": area})
    return truth


# kind -> (page size in mm, drawing function)
LAYOUTS: dict[str, tuple[tuple[float, float], Callable[[Canvas, Writer, np.random.Generator], Truth]]] = {
    "postal": ((140.0, 80.0), _postal),
    "cheque": ((156.0, 70.0), _cheque),
    "hsf": ((216.0, 170.0), _hsf),
    "numbers": ((150.0, 90.0), _numbers),
}

# ------------------------------------------------------------------------------ the scanner


def _affine(w: int, h: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Page placement on the scanner glass: rotation of a degree or two, a few % shift and scale."""
    angle = float(rng.uniform(-2.0, 2.0))
    scale = float(rng.uniform(0.97, 1.03))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[0, 2] += rng.uniform(-0.02, 0.02) * w
    m[1, 2] += rng.uniform(-0.02, 0.02) * h
    return m, angle


def _move_bbox(m: np.ndarray, bbox: Sequence[int], w: int, h: int) -> list[int]:
    x, y, bw, bh = bbox
    pts = np.array([[x, y, 1], [x + bw, y, 1], [x, y + bh, 1], [x + bw, y + bh, 1]], np.float64) @ m.T
    x0, y0 = np.clip(pts.min(0), 0, [w, h])
    x1, y1 = np.clip(pts.max(0), 0, [w, h])
    return [int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1 - x0)), int(np.ceil(y1 - y0))]


def scan(c: Canvas, rng: np.random.Generator) -> tuple[bytes, np.ndarray, float]:
    """Place, print and scan the page: the scanner's JPEG file, the placement matrix and the skew."""
    h, w = c.height, c.width
    m, angle = _affine(w, h, rng)
    printed = cv2.warpAffine(c.printed, m, (w, h), flags=cv2.INTER_LINEAR)
    hand = cv2.warpAffine(c.hand, m, (w, h), flags=cv2.INTER_LINEAR)
    # Grey, uneven paper: a smooth random field upsampled from a coarse grid.
    paper = float(rng.uniform(200, 240))
    coarse = rng.normal(0, 5, (6, 8)).astype(np.float32)
    paper_img = paper + cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    toner, pen = float(rng.uniform(15, 45)), float(rng.uniform(20, 80))
    img = paper_img * (1 - printed) + toner * printed
    img = img * (1 - hand) + pen * hand
    # Dust and specks.
    for _ in range(int(rng.integers(5, 30))):
        cv2.circle(img, (int(rng.integers(w)), int(rng.integers(h))), int(rng.integers(1, 3)), float(rng.uniform(60, 160)), -1)
    sigma = float(rng.uniform(0.4, 0.9)) * c.dpi / 200.0
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    img += rng.normal(0, rng.uniform(1.5, 4.0), img.shape).astype(np.float32)
    gray = np.clip(img, 0, 255).astype(np.uint8)
    quality = int(rng.integers(45, 90))
    ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes(), m, angle


def render(kind: str, seed: int, digits: Digits, dpi: int | None = None) -> tuple[bytes, dict[str, Any]]:
    """One synthetic scan of ``kind`` (JPEG bytes, as scanners write them) and its truth.

    Deterministic in (kind, seed, dpi) for a given OpenCV build.
    """
    if kind not in LAYOUTS:
        raise ValueError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    dpi = int(dpi if dpi is not None else rng.choice(DPIS))
    (w_mm, h_mm), draw = LAYOUTS[kind]
    canvas = Canvas(int(round(w_mm * dpi / 25.4)), int(round(h_mm * dpi / 25.4)), dpi)
    truth = draw(canvas, Writer(canvas, digits, rng), rng)
    jpeg, m, angle = scan(canvas, rng)
    for f in truth:
        f["bbox"] = _move_bbox(m, f["bbox"], canvas.width, canvas.height)
    info = {"kind": kind, "seed": seed, "dpi": dpi, "width": canvas.width, "height": canvas.height,
            "skew_deg": round(angle, 3), "fields": truth}
    return jpeg, info


def decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)


def write_samples(out_dir: str | Path, kinds: Sequence[str], count: int, seed: int, digits: Digits,
                  dpis: Sequence[int] | None = None, fmt: str = "jpg") -> list[Path]:
    """``count`` samples per kind as ``{kind}-{nnn}.jpg`` with ``{kind}-{nnn}.truth.json`` beside.

    Sample i of every kind uses seed ``seed + i``; ``dpis`` cycles through the given resolutions
    (default: a random one of 150-300 dpi per sample). JPEG is the default because it is the
    scanner's own output (the artefacts are part of the simulation) and a noisy grey page costs
    3-4 times more as PNG; ``fmt="png"`` writes the same pixels losslessly.
    """
    if fmt not in ("jpg", "png"):
        raise ValueError(f"unknown format {fmt!r} (expected jpg or png)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in kinds:
        for i in range(count):
            dpi = dpis[i % len(dpis)] if dpis else None
            jpeg, info = render(kind, seed + i, digits, dpi)
            stem = out / f"{kind}-{i:03d}"
            image = stem.with_suffix("." + fmt)
            if fmt == "jpg":
                image.write_bytes(jpeg)
            else:
                cv2.imwrite(str(image), decode(jpeg), [cv2.IMWRITE_PNG_COMPRESSION, 9])
            info["image"] = image.name
            stem.with_suffix(".truth.json").write_text(json.dumps(info, indent=1) + "\n")
            written.append(image)
    return written
