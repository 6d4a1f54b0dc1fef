"""`formreader predict` on photo-like pictures of one mark: "old", Otsu on the whole picture
(:func:`formreader.imaging.normalize.ink_from_gray`) and one look by the model, against "new",
:func:`formreader.reading.single_digit.read_digit`.

Cases come from the seeded generator of tests/photos.py, on other seeds
than the tests use: MNIST *test* digits on plain paper, a light gradient, a gradient with a hard
shadow, ruled and squared paper; letters and symbols drawn the same ways; blank paper. Also the
MNIST test digits themselves (black on white), which must not lose accuracy.

Prints, per condition: digit accuracy old vs new, and how many came out as no digit; for
letters/symbols, the share read as a digit at confidence >= 0.9 (per character too) and the
share given as "not a digit"; for blanks, how many came out as a digit. No timing asserts.

    python benchmarks/bench_predict_photos.py [--digits 500] [--clean 2000] [--symbols 100] [--blanks 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from photos import CONDITIONS, LETTERS, SYMBOLS, blank_photo, digit_photo, symbol_photo  # noqa: E402

from formreader.imaging.normalize import ink_from_gray, to_mnist  # noqa: E402
from formreader.reading.single_digit import read_digit  # noqa: E402
from formreader.recognizer.model import CLASS_NAMES, load_model  # noqa: E402
from formreader.training.data import load_mnist  # noqa: E402

CONFIDENT = 0.9
SEED_DIGITS, SEED_SYMBOLS, SEED_BLANKS = 20_000, 30_000, 40_000  # the tests use 5,100-9,200


def old_reading(gray: np.ndarray, rec) -> tuple[str | None, float]:
    """The whole-picture reading: Otsu on the whole picture (``ink_from_gray``), one look."""
    _, probs = rec.classify(to_mnist(ink_from_gray(gray))[None])
    k = int(probs[0].argmax())
    return (None if CLASS_NAMES[k] == "reject" else CLASS_NAMES[k]), float(probs[0, k])


def new_reading(gray: np.ndarray, rec) -> tuple[str | None, float]:
    r = read_digit(gray, rec)
    return r.digit, r.confidence


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--digits", type=int, default=500, help="MNIST test digits per condition")
    ap.add_argument("--clean", type=int, default=2000, help="MNIST test digits read as they are (black on white)")
    ap.add_argument("--symbols", type=int, default=100, help="pictures per letter or symbol (spread over conditions)")
    ap.add_argument("--blanks", type=int, default=100, help="blank pictures per condition")
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    args = ap.parse_args()

    data = load_mnist(args.mnist)
    rec = load_model(None)
    readers = {"old": old_reading, "new": new_reading}
    started = time.perf_counter()

    print(f"digits: {args.digits} MNIST test digits per condition (accuracy; no digit given)")
    total = {k: 0 for k in readers}
    for cond in CONDITIONS:
        grays = [digit_photo(data.x_test[i], cond, SEED_DIGITS + i) for i in range(args.digits)]
        labels = [str(v) for v in data.y_test[: args.digits]]
        line = [f"  {cond:9s}"]
        for name, read in readers.items():
            out = [read(g, rec) for g in grays]
            right = sum(d == y for (d, _), y in zip(out, labels))
            total[name] += right
            none = sum(d is None for d, _ in out)
            line.append(f"{name} {right / len(grays):6.1%} ({none} none)")
        print("  ".join(line))
    n = args.digits * len(CONDITIONS)
    print("  all       " + "  ".join(f"{k} {v / n:6.1%}" for k, v in total.items()))

    print(f"\nclean MNIST test digits (first {args.clean}, black on white)")
    labels = [str(v) for v in data.y_test[: args.clean]]
    for name, read in readers.items():
        out = [read(255 - data.x_test[i], rec) for i in range(args.clean)]
        right = sum(d == y for (d, _), y in zip(out, labels))
        print(f"  {name}: {right / args.clean:.2%} ({args.clean - right} wrong or no digit)")

    chars = LETTERS + SYMBOLS
    print(f"\nletters and symbols: {args.symbols} pictures each, {len(chars) * args.symbols} in all")
    for name, read in readers.items():
        confident, digit = Counter(), Counter()
        for k, ch in enumerate(chars):
            for j in range(args.symbols):
                d, c = read(symbol_photo(ch, CONDITIONS[j % len(CONDITIONS)], SEED_SYMBOLS + 1000 * k + j), rec)
                digit[ch] += d is not None
                confident[ch] += d is not None and c >= CONFIDENT
        n = len(chars) * args.symbols
        per = ", ".join(f"{ch} {confident[ch]}" for ch in chars if confident[ch])
        print(f"  {name}: digit at >= {CONFIDENT}: {sum(confident.values()) / n:5.1%} ({per or 'none'}); "
              f"any digit: {sum(digit.values()) / n:5.1%}; not a digit: {1 - sum(digit.values()) / n:5.1%}")

    print(f"\nblank pictures: {args.blanks} per condition (given as a digit / as a digit at >= {CONFIDENT})")
    for name, read in readers.items():
        parts = []
        for cond in CONDITIONS:
            out = [read(blank_photo(cond, SEED_BLANKS + j), rec) for j in range(args.blanks)]
            parts.append(f"{cond} {sum(d is not None for d, _ in out)}/{sum(d is not None and c >= CONFIDENT for d, c in out)}")
        print(f"  {name}: " + ", ".join(parts))
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
