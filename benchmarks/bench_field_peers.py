"""Peer OCR engines on real handwritten field crops, per book: what a reader off the shelf gets.

Why: the parish-row crops (``shared/data/fields/parish-rows``, see ``tests/parish.py``) are real
handwriting, one row number per crop. This script reads every crop of a split with two peer
engines and, with ``--ours``, with formreader itself, and prints per book and in total:

* string accuracy: the engine's output, digits only, equals the label exactly. Labels that are
  not all digits (``NB``, ``24a``, ``-``, ...) count as wrong for every engine;
* digit-label accuracy: the same over the crops whose label is all digits;
* crops/s: wall time of that engine over that book's crops (one thread);
* for ``--ours`` (``ScanOptions(field_mode="field")``) also the ok-precision: of the crops whose fields are all ``ok`` (at least one),
  the share whose value equals the label.

Peers (not package dependencies; ``pip install -e '.[bench]'`` for RapidOCR):

* Tesseract 5 (the ``tesseract`` binary, ``apt-get install -y tesseract-ocr``), digit
  whitelist, ``--psm 7`` (one text line) and ``--psm 8`` (one word);
* RapidOCR (``rapidocr-onnxruntime``: PP-OCR det + cls + rec weights inside the wheel, offline),
  its recognised text with everything but digits dropped.

A missing peer is reported as "not installed" and skipped. Run on an idle machine:

    python benchmarks/bench_field_peers.py                      # held-out books, both peers
    python benchmarks/bench_field_peers.py --limit 20           # quick look: 20 crops per book
    python benchmarks/bench_field_peers.py --split dev --ours --json
"""

from __future__ import annotations

import os

# One thread per engine: the development machine is small and shared. Set before any import
# that starts a thread pool (onnxruntime, OpenMP in tesseract, TensorFlow for --ours).
for _var in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import typing  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import parish  # noqa: E402

Crop = tuple[Path, str, str]  # image path, label, book
Reader = Callable[[Sequence[Path]], list[str]]  # crops -> digits-only strings, one per crop
TOTAL = "total"


@dataclasses.dataclass
class Score:
    """One engine on one book (or in total)."""

    crops: int = 0
    correct: int = 0
    digit_crops: int = 0  # crops whose label is all digits
    digit_correct: int = 0
    seconds: float = 0.0
    ok_crops: int = 0  # --ours only: crops whose fields are all "ok" (at least one)
    ok_correct: int = 0

    def add(self, other: Score) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict[str, float | int | None]:
        d: dict[str, float | int | None] = dataclasses.asdict(self)
        d.update(accuracy=ratio(self.correct, self.crops),
                 digit_accuracy=ratio(self.digit_correct, self.digit_crops),
                 crops_per_s=ratio(self.crops, self.seconds),
                 ok_precision=ratio(self.ok_correct, self.ok_crops))
        return d


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# --- peers -------------------------------------------------------------------------------------

def tesseract_reader(psm: int) -> Reader | str:
    """Tesseract on each crop with a digit whitelist, or why it cannot run."""
    exe = shutil.which("tesseract")
    if exe is None:
        return "not installed (apt-get install -y tesseract-ocr)"

    def read(paths: Sequence[Path]) -> list[str]:
        cmd = [exe, "", "stdout", "--psm", str(psm), "-c", "tessedit_char_whitelist=0123456789"]
        out = []
        for p in paths:
            cmd[1] = str(p)
            r = subprocess.run(cmd, capture_output=True, text=True, check=False)
            out.append(digits(r.stdout))
        return out

    return read


def rapidocr_reader() -> Reader | str:
    """RapidOCR (det + cls + rec) on each crop, one thread, or why it cannot run."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return "not installed (pip install rapidocr-onnxruntime)"
    import numpy as np

    engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    engine(np.full((110, 170, 3), 255, np.uint8))  # warm up (session start) outside the timing

    def read(paths: Sequence[Path]) -> list[str]:
        out = []
        for p in paths:
            result, _ = engine(str(p))
            out.append(digits("".join(line[1] for line in result or [])))
        return out

    return read


def ours_reader(warm_up: Path) -> Reader | str:
    """formreader with ``ScanOptions(layout="field")``, or why it cannot run. Returns, per crop,
    the concatenated field values, with ``"\\0"`` appended when every field is ``ok`` (stripped by
    :func:`split_ok`) so the scorer can report the ok-precision."""
    from formreader import api
    from formreader.results import ScanOptions

    options = field_options(ScanOptions)
    if options is None:
        return "not available (ScanOptions has neither layout nor field_mode 'field')"
    api.read([warm_up], options)  # load the model outside the timing

    def read(paths: Sequence[Path]) -> list[str]:
        by_source = {os.path.realpath(page.source): page for page in api.read(list(paths), options)}
        out = []
        for p in paths:
            page = by_source.get(os.path.realpath(p))
            fields = page.fields if page is not None else []
            value = "".join(f.value for f in fields)
            all_ok = bool(fields) and all(f.status == "ok" for f in fields)
            out.append(value + ("\0" if all_ok else ""))
        return out

    return read


def field_options(options_type: type) -> Any:
    """``ScanOptions`` that read each image as one field: ``layout="field"`` where that option
    exists, else ``field_mode="field"`` (the name it landed under); None if neither."""
    names = {f.name for f in dataclasses.fields(options_type)}
    if "layout" in names:
        return options_type(layout="field")
    if "field_mode" in names and "field" in typing.get_args(
            typing.get_type_hints(options_type)["field_mode"]):
        return options_type(field_mode="field")
    return None


def split_ok(text: str) -> tuple[str, bool]:
    return (text[:-1], True) if text.endswith("\0") else (text, False)


def engines(ours: bool, warm_up: Path) -> dict[str, Reader | str]:
    found: dict[str, Reader | str] = {
        "tesseract psm7": tesseract_reader(7),
        "tesseract psm8": tesseract_reader(8),
        "rapidocr": rapidocr_reader(),
    }
    if ours:
        found["ours"] = ours_reader(warm_up)
    return found


# --- scoring -----------------------------------------------------------------------------------

def by_book(crops: Sequence[Crop], limit: int | None) -> dict[str, list[Crop]]:
    books: dict[str, list[Crop]] = {}
    for crop in crops:
        books.setdefault(crop[2], []).append(crop)
    return {b: c[:limit] if limit else c for b, c in sorted(books.items())}


def score(read: Reader, crops: Sequence[Crop]) -> tuple[Score, list[str]]:
    """Read ``crops`` once, timed, and score the outputs against their labels."""
    start = time.perf_counter()
    outputs = read([p for p, _, _ in crops])
    s = Score(crops=len(crops), seconds=time.perf_counter() - start)
    for (_, label, _), raw in zip(crops, outputs, strict=True):
        text, all_ok = split_ok(raw)
        hit = text == label and label.isdigit()
        s.correct += hit
        if label.isdigit():
            s.digit_crops += 1
            s.digit_correct += hit
        if all_ok:
            s.ok_crops += 1
            s.ok_correct += hit
    return s, [split_ok(o)[0] for o in outputs]


def run(books: dict[str, list[Crop]], readers: dict[str, Reader],
        progress: bool) -> tuple[dict[str, dict[str, Score]], dict[str, dict[str, str]]]:
    """Scores per engine per book (plus ``total``) and each engine's output per crop file name."""
    scores: dict[str, dict[str, Score]] = {}
    outputs: dict[str, dict[str, str]] = {}
    for name, read in readers.items():
        scores[name] = {TOTAL: Score()}
        outputs[name] = {}
        for book, crops in books.items():
            s, texts = score(read, crops)
            scores[name][book] = s
            scores[name][TOTAL].add(s)
            outputs[name].update((p.name, t) for (p, _, _), t in zip(crops, texts))
            if progress:
                print(f"  {name:15} {book}: {s.crops} crops, {s.seconds:.1f} s", file=sys.stderr)
    return scores, outputs


# --- report ------------------------------------------------------------------------------------

def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def table(books: dict[str, list[Crop]], scores: dict[str, dict[str, Score]]) -> str:
    names = list(scores)
    rows = [
        "| book | crops | digit labels | " + " | ".join(names) + " | "
        + " | ".join(f"{n} crops/s" for n in names) + " |",
        "| --- " * (3 + 2 * len(names)) + "|",
    ]
    for book in [*books, TOTAL]:
        first = scores[names[0]][book]
        acc = [f"{pct(s.to_dict()['accuracy'])} ({pct(s.to_dict()['digit_accuracy'])})"
               for s in (scores[n][book] for n in names)]
        rate = [f"{scores[n][book].crops / scores[n][book].seconds:.1f}"
                if scores[n][book].seconds else "-" for n in names]
        label = f"**{book}**" if book == TOTAL else book
        rows.append(f"| {label} | {first.crops} | {first.digit_crops} | " + " | ".join(acc)
                    + " | " + " | ".join(rate) + " |")
    return "\n".join(rows)


def ok_lines(scores: dict[str, dict[str, Score]]) -> list[str]:
    if "ours" not in scores:
        return []
    ours = scores["ours"]
    return [f"ours ok-precision {book}: {pct(s.to_dict()['ok_precision'])} "
            f"of {s.ok_crops} all-ok crops ({pct(ratio(s.ok_crops, s.crops))} of crops)"
            for book, s in sorted(ours.items(), key=lambda kv: kv[0] == TOTAL)]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("held-out", "dev", "all"), default="held-out")
    ap.add_argument("--limit", type=int, default=None, help="first N crops per book")
    ap.add_argument("--json", action="store_true", help="print JSON (with every output) instead")
    ap.add_argument("--ours", action="store_true", help="also read the crops with formreader")
    args = ap.parse_args(argv)

    books = by_book(parish.crops(args.split), args.limit)
    found = engines(args.ours, next(iter(books.values()))[0][0])
    readers = {n: r for n, r in found.items() if not isinstance(r, str)}
    skipped = {n: r for n, r in found.items() if isinstance(r, str)}
    for name, why in skipped.items():
        print(f"{name}: {why}", file=sys.stderr)
    if not readers:
        sys.exit("no engine to run")

    load_before = os.getloadavg()
    start = time.perf_counter()
    scores, outputs = run(books, readers, progress=not args.json)
    wall = time.perf_counter() - start
    load_after = os.getloadavg()

    if args.json:
        print(json.dumps({
            "split": args.split, "limit": args.limit, "books": list(books),
            "skipped": skipped, "seconds": wall,
            "loadavg_before": load_before, "loadavg_after": load_after,
            "scores": {n: {b: s.to_dict() for b, s in bs.items()} for n, bs in scores.items()},
            "labels": {p.name: label for crops in books.values() for p, label, _ in crops},
            "outputs": outputs,
        }, indent=1))
        return
    print(f"split {args.split}, books {', '.join(books)}"
          + (f", first {args.limit} crops per book" if args.limit else ""))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}")
    print()
    print("string accuracy, all crops (digit labels only); crops/s per engine, one thread\n")
    print(table(books, scores))
    print()
    for line in ok_lines(scores):
        print(line)
    for name, why in skipped.items():
        print(f"{name}: {why}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in load_after)}; wall {wall:.0f} s")


if __name__ == "__main__":
    main()
