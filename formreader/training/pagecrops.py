"""Training digits cut from synthetic pages by the scanner itself, labelled from the pages' truth.

Scan-style augmentation (:mod:`formreader.training.augment`) imitates what a page does to a digit; the
pipeline's own crops are the real thing: box-line remnants, a digit clipped by a divider, two
touching digits cut apart, a neighbour's stroke left in. The shipped pipelines read pages that
:mod:`formreader.training.synth` draws with MNIST *training* digits, and every field read with as many
digits as its truth gives one labelled crop per digit, misreadings included: those are the
crops worth learning from. Fields read with too many or too few digits are left out, since
their crops cannot be matched to the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from formreader.config import load_pipeline
from formreader.reading.decode import Reading
from formreader.recognizer.model import Recognizer
from formreader.recognizer.shipped import shipped_pipelines
from formreader.training.drawing import Digits
from formreader.training.synth import decode, render

# shipped pipeline -> the kind of synthetic page it reads (synth.KINDS)
PIPELINE_KINDS = {"cheque": "cheque", "postal": "postal", "forms": "numbers", "nist-hsf": "hsf"}
DPIS = (150, 200, 250, 300)


@dataclass
class PageCrops:
    x: np.ndarray  # (n, 28, 28) float32, as the model reads them
    y: np.ndarray  # (n,) int64, the truth
    read: np.ndarray  # (n,) int64, what the reading recognizer made of them
    pages: int
    fields: int  # fields whose crops were kept
    skipped: int  # fields read with another number of digits than the truth
    seconds: float

    def summary(self) -> dict[str, float | int]:
        return {"crops": int(len(self.y)), "misread": int((self.y != self.read).sum()), "pages": self.pages,
                "fields": self.fields, "fields_skipped": self.skipped, "seconds": round(self.seconds, 1)}


def labelled_crops(readings: Sequence[Reading | None], names: Sequence[str], truth: dict[str, str]
                   ) -> tuple[list[np.ndarray], list[int], list[int], int]:
    """(crops, true digits, read digits, fields skipped) from one page's named-field readings."""
    xs: list[np.ndarray] = []
    ys: list[int] = []
    reads: list[int] = []
    skipped = 0
    for name, reading in zip(names, readings):
        want = truth.get(name)
        if want is None:
            continue
        got = reading.digits if reading is not None else []
        if len(got) != len(want) or any(d.crop is None for d in got):
            skipped += 1
            continue
        for d, ch in zip(got, want):
            assert d.crop is not None
            xs.append(d.crop)
            ys.append(int(ch))
            reads.append(d.value)
    return xs, ys, reads, skipped


def page_crops(digits: Digits, recognizer: Recognizer, pages: int, seed: int,
               pipelines_dir: Path | None = None, dpis: Sequence[int] = DPIS,
               progress: Callable[[int, int], None] | None = None) -> PageCrops:
    """Crops from ``pages`` synthetic pages of every kind, drawn with ``digits`` only.

    Page i of each kind uses seed ``seed + i`` and resolution ``dpis[i % len(dpis)]``, so the
    result is a function of the arguments (and the recognizer, which decides the cuts).
    """
    from formreader.reading.zones import read_named

    start = time.perf_counter()
    xs: list[np.ndarray] = []
    ys: list[int] = []
    reads: list[int] = []
    fields = skipped = done = 0
    total = pages * len(PIPELINE_KINDS)
    folder = pipelines_dir if pipelines_dir is not None else shipped_pipelines()
    for name, kind in PIPELINE_KINDS.items():
        spec = load_pipeline(folder / f"{name}.yaml", check_files=False).spec
        names = [f.name for f in spec.fields]
        for i in range(pages):
            jpeg, info = render(kind, seed + i, digits, dpis[i % len(dpis)])
            truth = {f["name"]: "".join(ch for ch in f["value"] if ch.isdigit()) for f in info["fields"]}
            readings: list[Reading | None] = []
            read_named(decode(jpeg), recognizer, spec, readings)
            x, y, r, s = labelled_crops(readings, names, truth)
            xs += x
            ys += y
            reads += r
            skipped += s
            fields += len(truth) - s
            done += 1
            if progress is not None:
                progress(done, total)
    x_all = np.stack(xs).astype(np.float32) if xs else np.zeros((0, 28, 28), np.float32)
    return PageCrops(x_all, np.array(ys, np.int64), np.array(reads, np.int64), pages * len(PIPELINE_KINDS),
                     fields, skipped, time.perf_counter() - start)
