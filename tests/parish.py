"""The real field images in ``../shared/data/fields/parish-rows`` and how they are split.

6,968 handwritten row numbers cut from 13 Danish parish record books. The book is the second
part of a file name (``born_K2730_0017a-FM_row_id_0.Jpg`` is book K2730). Four books are held
out: nothing is tuned on them, and they are scored per book (``benchmarks/bench_fields.py``).
They were chosen before any field-image code was written, without looking at how they read.

Some labels do not say what the crop shows: on a few pages every row's label is its neighbour's
(``K2732_0075a`` is labelled 52-55 and shows 56-59; ``K2732_0076a`` the other way round).
``data/parish-label-audit.csv`` lists the crops whose label was checked by eye against the image
and found wrong, with what is written. Only crops read ``ok`` but differing from their label were
checked, so the audit can only move fields marked ``ok``; scores are given both ways.
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARISH = ROOT.parent / "shared" / "data" / "fields" / "parish-rows"
AUDIT = ROOT / "tests" / "data" / "parish-label-audit.csv"

# Held out for testing: never used to choose a stage, a threshold or a model.
HELD_OUT = ("K2171", "K2735", "K2736", "K2739")


def book(filename: str) -> str:
    """The book a crop comes from: the second ``_``-separated part of its file name."""
    return filename.split("_")[1]


def crops(split: str = "all", root: Path = PARISH) -> list[tuple[Path, str, str]]:
    """``(image path, label, book)`` of every crop in ``split``: ``held-out``, ``dev`` or ``all``,
    in the order of ``labels.csv``."""
    if split not in ("held-out", "dev", "all"):
        raise ValueError(f"unknown split {split!r}")
    with open(root / "labels.csv", newline="", encoding="utf-8") as f:
        rows = [(r["filename"], r["label"]) for r in csv.DictReader(f)]
    out = []
    for name, label in rows:
        b = book(name)
        if split == "all" or (split == "held-out") == (b in HELD_OUT):
            out.append((root / "images" / name, label, b))
    return out


def audited_labels(path: Path = AUDIT) -> dict[str, str]:
    """File name -> what the crop shows, for the crops whose label was found wrong by eye."""
    with open(path, newline="", encoding="utf-8") as f:
        return {r["filename"]: r["written"] for r in csv.DictReader(f)}
