"""Field images: accuracy and speed of ``--mode field`` on the real parish-register crops.

Reads the crops of ``../shared/data/fields/parish-rows`` (the held-out books by default, see
``tests/parish.py``) through :func:`formreader.driver.files.read_files`, the path ``formreader
scan --mode field`` takes, in one process, and prints per book:

- string accuracy: ``value`` equals the label (labels that are not all digits, like ``4a`` or
  ``NB``, count as wrong);
- ok share and ok-precision: of the crops marked ``ok``, the share read right;
- non-digit labels marked ok: those must all be ``review``;
- ok-precision against the audited labels (``tests/data/parish-label-audit.csv``: crops whose
  label was checked by eye and found to name another row's number);
- the string reader alone: its digits equal the label (``FORMREADER_STRING_MODEL=none`` runs
  the segmenter alone, for the comparison).

Speed: crops/s in one process (decode, clean, segment, classify) as ``formreader scan`` reads
a folder (runs of crops classified together), and reading one file at a time through the API,
against a floor on the same crops in the same run (decode + Otsu + connected components), and
their ratio; and crops/s of ``formreader scan --mode field --workers N`` (default 2) on the
same crops, start-up included.

    python benchmarks/bench_fields.py [--split held-out|dev|all] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import parish  # noqa: E402  (tests/parish.py: the crops and their split)


def floor(paths: list[Path]) -> float:
    """Seconds to decode, Otsu-threshold and label the connected components of every crop."""
    import cv2

    start = time.perf_counter()
    for p in paths:
        g = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        _, m = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
        cv2.connectedComponentsWithStats(m, connectivity=8)
    return time.perf_counter() - start


def ours(paths: list[Path]) -> tuple[list, float]:
    """Each crop's first field (None for a crop that could not be read), and the seconds taken,
    read in one process the way ``formreader scan`` reads a folder
    (:func:`formreader.driver.files.read_files`: runs of crops classified together)."""
    from formreader.driver.files import ReadJob, read_files
    from formreader.recognizer.model import load_model
    from formreader.results import ScanOptions

    rec = load_model()
    job = ReadJob(ScanOptions(field_mode="field"))
    list(read_files(paths[:1], job, rec))  # warm up: ONNX sessions, first-call allocations
    start = time.perf_counter()
    out = [r.pages[0].fields[0] if r.pages and r.pages[0].fields else None for r in read_files(paths, job, rec)]
    return out, time.perf_counter() - start


def one_by_one(paths: list[Path]) -> float:
    """Seconds to read the crops one file at a time (:func:`formreader.api.read_file`), the
    way a caller of the API reading single files goes."""
    from formreader.api import read_file
    from formreader.recognizer.model import load_model
    from formreader.results import ScanOptions

    rec = load_model()
    options = ScanOptions(field_mode="field")
    start = time.perf_counter()
    for p in paths:
        list(read_file(p, rec, options))
    return time.perf_counter() - start


def cli(paths: list[Path], workers: int) -> float:
    """Seconds for ``formreader scan --mode field --workers N`` over the crops, start-up included."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "crops"
        listing.mkdir()
        for i, p in enumerate(paths):  # one folder of links: one command line for any count
            (listing / f"{i:05d}{p.suffix}").symlink_to(p)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "formreader", "scan", "--mode", "field", "--workers", str(workers),
                        "-o", str(Path(tmp) / "out.json"), str(listing)], check=True, capture_output=True)
        return time.perf_counter() - start


def score(rows: list[tuple[Path, str, str]], fields: list) -> dict[str, dict[str, float]]:
    """Per book and in total: crops, right, ok, ok_right, nondigit, nondigit_ok, and ok_audited_right
    (ok and equal to the audited label)."""
    table: dict[str, dict[str, float]] = {}
    audit = parish.audited_labels()
    for (path, label, book), f in zip(rows, fields):
        for key in (book, "all"):
            s = table.setdefault(key, dict(crops=0, right=0, ok=0, ok_right=0, nondigit=0, nondigit_ok=0,
                                           string_right=0, ok_audited_right=0, relabelled=0))
            value = "" if f is None else f.value
            ok = f is not None and f.status == "ok"
            s["crops"] += 1
            s["right"] += value == label
            s["ok"] += ok
            s["ok_right"] += ok and value == label
            s["ok_audited_right"] += ok and value == audit.get(path.name, label)
            s["relabelled"] += path.name in audit
            s["nondigit"] += not label.isdigit()
            s["nondigit_ok"] += ok and not label.isdigit()
            second = "" if f is None or f.second is None else "".join(c for c in f.second[0] if c.isdigit())
            s["string_right"] += second == label
    for s in table.values():
        s["accuracy"] = s["right"] / s["crops"]
        s["string_reader_accuracy"] = s["string_right"] / s["crops"]
        s["ok_share"] = s["ok"] / s["crops"]
        s["ok_precision"] = s["ok_right"] / s["ok"] if s["ok"] else float("nan")
        s["ok_precision_audited"] = s["ok_audited_right"] / s["ok"] if s["ok"] else float("nan")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="held-out", choices=("held-out", "dev", "all"))
    ap.add_argument("--limit", type=int, default=0, help="first N crops of each book (0: all)")
    ap.add_argument("--workers", type=int, default=2, help="workers for the end-to-end CLI run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rows = parish.crops(args.split)
    if args.limit:
        seen: dict[str, int] = {}
        rows = [r for r in rows if seen.setdefault(r[2], 0) < args.limit and not seen.__setitem__(r[2], seen[r[2]] + 1)]
    paths = [p for p, _, _ in rows]
    load = os.getloadavg()[0]
    t_floor = floor(paths)
    fields, t_ours = ours(paths)
    t_single = one_by_one(paths)
    t_cli = cli(paths, args.workers)
    t_start = cli(paths[: args.workers], args.workers)  # start-up: as many crops as workers
    t_floor2 = floor(paths)  # the floor again after: the host's speed drifts
    floor_s = min(t_floor, t_floor2)
    table = score(rows, fields)
    speed = dict(crops_per_s=len(paths) / t_ours, one_by_one_crops_per_s=len(paths) / t_single,
                 floor_crops_per_s=len(paths) / floor_s,
                 ours_over_floor=t_ours / floor_s, cli_workers=args.workers, cli_crops_per_s=len(paths) / t_cli,
                 cli_startup_s=t_start, cli_steady_crops_per_s=(len(paths) - args.workers) / max(t_cli - t_start, 1e-9),
                 load_before=load, load_after=os.getloadavg()[0])
    if args.json:
        print(json.dumps(dict(split=args.split, books=table, speed=speed), indent=1))
        return
    print(f"split {args.split}: {len(paths)} crops")
    print("| book | crops | string accuracy | ok | ok-precision | ok-precision, audited labels (labels found wrong) "
          "| non-digit labels (ok) | string reader alone |")
    print("|---|---|---|---|---|---|---|---|")
    for book in sorted(k for k in table if k != "all") + ["all"]:
        s = table[book]
        print(f"| {book} | {s['crops']} | {s['accuracy']:.1%} | {s['ok_share']:.1%} | {s['ok_precision']:.1%} | "
              f"{s['ok_precision_audited']:.1%} ({s['relabelled']}) | {s['nondigit']} ({s['nondigit_ok']}) | "
              f"{s['string_reader_accuracy']:.1%} |")
    print(f"ours {speed['crops_per_s']:.0f} crops/s in one process ({speed['one_by_one_crops_per_s']:.0f} "
          f"reading one file at a time); floor {speed['floor_crops_per_s']:.0f} crops/s; "
          f"ours/floor {speed['ours_over_floor']:.1f}x; `formreader scan --mode field --workers {args.workers}` "
          f"{speed['cli_crops_per_s']:.0f} crops/s (start-up included; {speed['cli_steady_crops_per_s']:.0f} "
          f"without its {speed['cli_startup_s']:.2f} s start-up); "
          f"load {speed['load_before']:.2f} -> {speed['load_after']:.2f}")


if __name__ == "__main__":
    main()
