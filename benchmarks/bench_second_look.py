"""The second look at doubtful digits, scored on labelled page crops in seconds.

Why: a change to how doubtful digits are read again (tilts, a second network, the threshold)
moves a few fields in a thousand, and bench_accuracy.py needs ~15 s per sample set of whole
pages to see it. This script cuts labelled 28x28 crops of MNIST *test* digits from fresh
synthetic pages once (``formreader.training.pagecrops``, the scanner's own cuts; cached), then reads the
doubtful ones again every way there is and counts the errors, on the same crops:

    python benchmarks/bench_second_look.py --mnist ../shared/data/mnist --seed 61000 --pages 60
    python benchmarks/bench_second_look.py --seed 61000 --seed 62000 --pages 60 --json

Crops of fields read with the wrong number of digits cannot be matched to the truth and are left
out, so this counts single-digit misreads only (four in five wrong fields on fresh sets).
Crops are cached under ``$TMPDIR/formreader-bench-crops`` per (seed, pages, model file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def crops(mnist: str | None, seed: int, pages: int) -> tuple[np.ndarray, np.ndarray]:
    """Labelled crops of ``pages`` pages per kind from ``seed`` on, cut by the scanner with the
    model in use (its cuts depend on the model: the cache is per model file too)."""
    import hashlib

    from formreader.recognizer.model import load_model
    from formreader.training.drawing import Digits
    from formreader.training.pagecrops import page_crops

    rec = load_model()
    assert rec.path is not None
    model = hashlib.sha256(rec.path.read_bytes()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / "formreader-bench-crops" / f"seed{seed}-n{pages}-{model}.npz"
    if not path.exists():
        got = page_crops(Digits.load_test(mnist), rec, pages, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, x=got.x, y=got.y)
    data = np.load(path)
    return data["x"], data["y"]


def score(x: np.ndarray, y: np.ndarray, below: float) -> dict:
    """Errors, silent errors (wrong at ``below`` or more) and doubtful digits (under ``below``)
    for each way of reading the doubtful crops again; the sure ones keep the first reading."""
    from formreader.recognizer.model import load_model

    full = load_model(screen=False)
    first = full.probabilities(x)
    doubtful = np.flatnonzero(first.max(axis=1) < below)
    alone = full.seconded_by(None)
    ways = {"upright only": first[doubtful], "tilted views": alone.look_again(x[doubtful])}
    if full.second is not None:
        ways["tilted views + second network (shipped)"] = full.look_again(x[doubtful])
    report: dict = {"crops": int(len(y)), "doubtful": int(len(doubtful)), "below": below, "ways": {}}
    for name, probs in ways.items():
        final = first.copy()
        final[doubtful] = probs
        wrong = final.argmax(axis=1) != y
        sure = final.max(axis=1) >= below
        report["ways"][name] = {"errors": int(wrong.sum()), "silent": int((wrong & sure).sum()),
                                "doubtful": int((~sure).sum()),
                                "errors_among_doubtful": int(wrong[doubtful].sum())}
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mnist", help="MNIST directory (default $FORMREADER_MNIST)")
    ap.add_argument("--seed", type=int, action="append", default=[],
                    help="first page seed (repeatable; default 61000)")
    ap.add_argument("--pages", type=int, default=60, help="pages per kind and seed (default 60)")
    ap.add_argument("--below", type=float, help="doubtful below this confidence (default LOOK_AGAIN_BELOW)")
    ap.add_argument("--model", help="model to score (default: the shipped one and its second network)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    if args.model:
        os.environ["FORMREADER_MODEL"] = args.model
    from formreader.errors import FormreaderError
    from formreader.recognizer.model import LOOK_AGAIN_BELOW

    t0 = time.perf_counter()
    try:
        parts = [crops(args.mnist, seed, args.pages) for seed in args.seed or [61000]]
    except FormreaderError as exc:
        sys.exit(f"bench_second_look: {exc}")
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    report = score(x, y, LOOK_AGAIN_BELOW if args.below is None else args.below)
    report.update(seeds=args.seed or [61000], pages=args.pages, seconds=round(time.perf_counter() - t0, 1))
    if args.json:
        print(json.dumps(report))
        return
    print(f"{report['crops']} labelled page crops, {report['doubtful']} read below {report['below']} at first")
    print(f"{'read again':<42} {'errors':>7} {'of them doubtful':>17} {'silent':>7} {'doubtful':>9}")
    for name, k in report["ways"].items():
        print(f"{name:<42} {k['errors']:>7} {k['errors_among_doubtful']:>17} {k['silent']:>7} {k['doubtful']:>9}")


if __name__ == "__main__":
    main()
