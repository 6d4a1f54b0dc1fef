"""A field's rules narrowing the reading: field images read with and without a length rule.

A form says how many digits a field holds (a ZIP: 5, an account number: 8). With that rule the
segmenter reads a crop again within it when its first reading has another count, and the
string reader takes the likeliest string of that length from its beam. This benchmark reads
the real parish-register crops (held-out books by default, ``tests/parish.py``) twice through
:func:`formreader.driver.files.read_page_image`, the path a ``layout: {mode: field}`` pipeline
takes: once with a field that has no rule, once with ``length:`` set to the digit count of the
crop's label, as a form's field would state it. Crops labelled with letters are left out (no
length to state). Printed per book: read right, ok share, ok-precision, and the fields whose
reason says the reading was fitted to the rule.

    python benchmarks/bench_field_rules.py [--split held-out|dev] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import parish  # noqa: E402  (tests/parish.py: the crops and their split)


def read_all(rows: list[tuple[Path, str, str]], with_length: bool, narrow: bool = True) -> list:
    """Each crop's field; ``narrow=False`` checks the rule after reading but does not let it
    narrow the readers (the comparison that isolates the narrowing)."""
    from unittest import mock

    from formreader.config import Pipeline
    from formreader.driver.files import ReadJob, read_page_image
    from formreader.io.pages import load_gray
    from formreader.recognizer.model import load_model

    rec = load_model()
    jobs: dict[int, ReadJob] = {}
    out = []
    for path, label, _ in rows:
        n = len(label) if with_length else 0
        if n not in jobs:
            field = {"name": "number", **({"length": n} if n else {})}
            spec = Pipeline.model_validate({"inputs": ["-"], "layout": {"mode": "field"}, "fields": [field]})
            jobs[n] = ReadJob(spec.scan_options(), spec)
        if narrow:
            _, fields = read_page_image(load_gray(path), rec, jobs[n])
        else:
            with mock.patch("formreader.reading.zones.string_rule", lambda spec: None), \
                 mock.patch("formreader.reading.zones.digit_count_rule", lambda spec: None):
                _, fields = read_page_image(load_gray(path), rec, jobs[n])
        out.append(fields[0])
    return out


def table(rows: list[tuple[Path, str, str]], fields: list) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for (_, label, book), f in zip(rows, fields):
        for key in (book, "all"):
            s = out.setdefault(key, dict(crops=0, right=0, ok=0, ok_right=0, fitted=0))
            s["crops"] += 1
            s["right"] += f.value == label
            s["ok"] += f.status == "ok"
            s["ok_right"] += f.status == "ok" and f.value == label
            s["fitted"] += "the rules accept" in (f.reason or "")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="held-out", choices=("held-out", "dev"))
    ap.add_argument("--limit", type=int, default=0, help="read only every k-th crop, k chosen to keep N")
    args = ap.parse_args()
    rows = [r for r in parish.crops(args.split) if r[1].isdigit()]
    if args.limit:
        rows = rows[:: max(1, len(rows) // args.limit)]
    runs = [table(rows, read_all(rows, False)), table(rows, read_all(rows, True, narrow=False)),
            table(rows, read_all(rows, True))]
    print(f"{len(rows)} crops labelled with digits ({args.split}): no rule / length rule checked after "
          f"reading / length rule narrowing both readers")
    print(f"{'book':8} {'crops':>6} {'right %':>20} {'ok %':>20} {'ok-precision %':>20} {'fitted':>7}")
    pct = lambda s, k, d: 100.0 * s[k] / s[d] if s[d] else float("nan")  # noqa: E731
    three = lambda book, k, d: " / ".join(f"{pct(r[book], k, d):4.1f}" for r in runs)  # noqa: E731
    for book in sorted(runs[0], key=lambda b: (b == "all", b)):
        print(f"{book:8} {runs[0][book]['crops']:6d} {three(book, 'right', 'crops'):>20} "
              f"{three(book, 'ok', 'crops'):>20} {three(book, 'ok_right', 'ok'):>20} {runs[2][book]['fitted']:7d}")


if __name__ == "__main__":
    main()
