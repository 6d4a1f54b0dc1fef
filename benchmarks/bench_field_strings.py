"""Synthetic number strings read as field images: the whole field reader, cleaning included.

The string reader's check strings (MNIST *test* digits, drawn by
:class:`formreader.training.string_synth.StringWriter` with the model card's check seed: 1-12
digits, touching and overlapping, thousands separators, decimals, dates, closing dashes,
underlines, specks, bold and faint pens) are turned into field images
(:func:`~formreader.training.string_synth.as_field_image`: dark ink on white, enlarged twice)
and read the way ``formreader scan --mode field`` reads a file. Printed per length of the
number and overall:

- the string reader alone on the clean synthetic strip (what its model card measures);
- the field reader with both readers and with the segmenter alone: value right (the digits),
  text right (separators too), share ok, and how many are wrong but ok.

Long amounts with separators are what cheques hold and what the parish crops (one to three
digits) never show, so this is the check of long strings end to end.

    python benchmarks/bench_field_strings.py [--strings 1000] [--seed 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUCKETS = ((1, 3), (4, 6), (7, 12))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--strings", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1000, help="the generator's seed (1000: the model card's check)")
    ap.add_argument("--mnist", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from formreader.reading.field_read import read_field_images
    from formreader.recognizer.model import load_model
    from formreader.recognizer.shipped import string_model_path
    from formreader.recognizer.strings import StringReader, decode_best_path
    from formreader.results import ScanOptions
    from formreader.training.data import load_mnist
    from formreader.training.string_synth import StringWriter, as_field_image, batch

    data = load_mnist(args.mnist)
    strips, _, _, texts = batch(StringWriter(data.x_test, data.y_test, seed=args.seed, width=352), args.strings)
    digits = ["".join(c for c in t if c.isdigit()) for t in texts]
    path = string_model_path(None)
    reader = StringReader(path) if path else None
    alone = [decode_best_path(reader.posteriors(s))[0] if reader else "" for s in strips]
    grays = [as_field_image(s) for s in strips]
    rec = load_model()
    both = read_field_images(grays, rec, ScanOptions(field_mode="field"))
    seg = read_field_images(grays, rec, ScanOptions(field_mode="field", string_reader=False))

    def row(label: str, idx: list[int]) -> str:
        n = max(1, len(idx))
        cells = [f"{label} ({len(idx)})", f"{sum(alone[i] == texts[i] for i in idx) / n:.1%}"]
        for fields in (both, seg):
            ok = [i for i in idx if fields[i].status == "ok"]
            cells += [f"{sum(fields[i].value == digits[i] for i in idx) / n:.1%}",
                      f"{sum(fields[i].text == texts[i] for i in idx) / n:.1%}",
                      f"{len(ok) / n:.1%}", str(sum(fields[i].value != digits[i] for i in ok))]
        return "| " + " | ".join(cells) + " |"

    print(f"{len(texts)} synthetic strings of MNIST test digits (seed {args.seed}) read as field images")
    print("| digits | string reader alone, text | both readers: value | text | ok | wrong but ok "
          "| segmenter alone: value | text | ok | wrong but ok |")
    print("|---" * 10 + "|")
    for lo, hi in BUCKETS:
        print(row(f"{lo}-{hi}", [i for i, d in enumerate(digits) if lo <= len(d) <= hi]))
    print(row("all", list(range(len(texts)))))


if __name__ == "__main__":
    main()
