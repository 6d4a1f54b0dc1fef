"""Boxes cut out of a form, as a capture tool hands them over, read as field images.

The 28 boxes of the real NIST form f0000 (found by reading the page; what is written in them
is ``tests/integration/test_nist_scan.TRUTH``) are cut out of the page with a margin of 0 to
60 px around each box (at 60 the neighbouring boxes' corners and the printed prompts come
along), then from the page turned by 0.5 to 3.5 degrees with seeded random margins of -4
to 40 px per side. Each crop is read with ``--mode field``. Prints, per condition: fields read
right, marked ok, and wrong but ok.

    python benchmarks/bench_box_crops.py [--seed 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT))

from test_nist_scan import TRUTH  # noqa: E402  (what is written in the form's 28 boxes)

PAGE = ROOT.parent / "shared" / "data" / "scans" / "nist-hsf-f0000.png"


def report(name: str, fields: list, truth: list[str]) -> None:
    right = sum(f.value == t for f, t in zip(fields, truth))
    ok = sum(f.status == "ok" for f in fields)
    wrong_ok = sum(f.status == "ok" and f.value != t for f, t in zip(fields, truth))
    print(f"| {name} | {len(truth)} | {right} | {ok} | {wrong_ok} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()

    from formreader.reading.field_read import read_field_images
    from formreader.reading.page import read_page
    from formreader.recognizer.model import load_model
    from formreader.results import ScanOptions

    page = cv2.imread(str(PAGE), cv2.IMREAD_GRAYSCALE)
    rec = load_model()
    boxes = [f.bbox for f in read_page(page, rec, ScanOptions())]
    assert len(boxes) == len(TRUTH), f"the page read {len(boxes)} fields, not {len(TRUTH)}"
    options = ScanOptions(field_mode="field")
    print("| crops | boxes | right | ok | wrong but ok |")
    print("|---|---|---|---|---|")
    for margin in (0, 10, 30, 60):
        crops = [page[max(0, y - margin): y + h + margin, max(0, x - margin): x + w + margin] for x, y, w, h in boxes]
        report(f"margin {margin} px", read_field_images(crops, rec, options), TRUTH)
    rng = np.random.default_rng(args.seed)
    for angle in (0.5, -0.8, 1.0, 1.5, -2.5, 3.5):
        centre = (page.shape[1] / 2.0, page.shape[0] / 2.0)
        turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
        turned = cv2.warpAffine(page, turn, page.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=255)
        for trial in range(3):
            crops = []
            for x, y, w, h in boxes:
                cx, cy = turn @ np.array([x + w / 2.0, y + h / 2.0, 1.0])
                left, right, top, bottom = rng.integers(-4, 40, 4)
                crops.append(turned[max(0, int(cy - h / 2 - top)): int(cy + h / 2 + bottom),
                                    max(0, int(cx - w / 2 - left)): int(cx + w / 2 + right)])
            report(f"page turned {angle:+.1f} deg, random margins ({trial + 1})", read_field_images(crops, rec, options),
                   TRUTH)


if __name__ == "__main__":
    main()
