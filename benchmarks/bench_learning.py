"""Learning from corrections: what ``formreader train --fields`` buys on real crops.

Two cases, on the parish-register crops (``tests/parish.py``: 13 books, 4 held out from all
development):

- ``--case dev``: fine-tune on every crop of the 9 development books, read the 4 held-out
  books with the shipped models and with the bundle (per book: right, ok, ok-precision);
- ``--case book``: for each held-out book, fine-tune on its first N crops (default 200: a user
  corrects a few pages) and read the rest of that book with the shipped models and the bundle.

Bundles are written under ``--work`` (default a temporary folder). Training takes minutes on 2
cores (6-17 for the dev case, 4-15 for each 200-crop bundle, by the host's speed).

    python benchmarks/bench_learning.py --case dev|book [--first 200] [--work DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import parish  # noqa: E402  (tests/parish.py: the crops and their split)

MNIST = ROOT.parent / "shared" / "data" / "mnist"


def train(rows: list[tuple[Path, str]], work: Path, name: str) -> Path:
    labels = work / f"{name}.csv"
    labels.write_text("image,value\n" + "".join(f"{p},{v}\n" for p, v in rows))
    out = work / name
    subprocess.run([sys.executable, "-m", "formreader", "train", "--fields", str(labels), "--out", str(out),
                    "--mnist", str(MNIST), "--force"], check=True)
    return out


def score(rows: list[tuple[Path, str]], model: Path | None) -> dict[str, float]:
    from formreader.io.pages import load_gray
    from formreader.reading.field_read import read_field_images
    from formreader.recognizer.model import load_model
    from formreader.results import ScanOptions

    fields = read_field_images([load_gray(p) for p, _ in rows], load_model(model), ScanOptions(field_mode="field"))
    right = [f.value == v for f, (_, v) in zip(fields, rows)]
    ok = [f.status == "ok" for f in fields]
    n_ok = max(1, sum(ok))
    return {"right": sum(right) / len(rows), "ok": sum(ok) / len(rows),
            "ok_precision": sum(a and b for a, b in zip(ok, right)) / n_ok}


def line(book: str, n: int, base: dict[str, float], tuned: dict[str, float]) -> str:
    return (f"| {book} | {n} | {base['right']:.1%} -> {tuned['right']:.1%} | {base['ok']:.1%} -> {tuned['ok']:.1%} "
            f"| {base['ok_precision']:.1%} -> {tuned['ok_precision']:.1%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=("dev", "book"), default="book")
    ap.add_argument("--first", type=int, default=200)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="formreader-learning-"))
    work.mkdir(parents=True, exist_ok=True)
    held = parish.crops("held-out")
    print("| book | crops read | right, shipped -> bundle | ok | ok-precision |\n|---|---|---|---|---|")
    if args.case == "dev":
        bundle = train([(p, v) for p, v, _ in parish.crops("dev")], work, "dev")
        for book in parish.HELD_OUT:
            rows = [(p, v) for p, v, b in held if b == book]
            print(line(book, len(rows), score(rows, None), score(rows, bundle)), flush=True)
        return
    for book in parish.HELD_OUT:
        rows = [(p, v) for p, v, b in held if b == book]
        bundle = train(rows[: args.first], work, book)
        rest = rows[args.first :]
        print(line(f"{book} (tuned on its first {args.first})", len(rest), score(rest, None), score(rest, bundle)),
              flush=True)


if __name__ == "__main__":
    main()
