"""Recognition accuracy on freshly generated samples: what the golden set cannot tell.

Why: the 32 committed golden samples are the regression test, and the pipeline has been tuned
while watching them, so their accuracy flatters us. This script renders new samples (same
generator, other seeds, MNIST test digits only), runs the four shipped pipelines on them and
prints digit and field accuracy per pipeline, with every wrong field. It also counts what a clerk
sees: the fields sent to review, and the wrong fields that were not ("silent": reported ``ok``
and wrong, the errors nobody checks).

    python benchmarks/bench_accuracy.py --mnist ../shared/data/mnist --count 16 --seed 7000
    python benchmarks/bench_accuracy.py --model other.keras --json
    python benchmarks/bench_accuracy.py --threshold 0.97     # review more, miss fewer errors

Samples are cached per (seed, count, dpi) under ``$TMPDIR/formreader-bench-accuracy``.
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

from formreader.training.pagecrops import PIPELINE_KINDS as PIPELINES  # noqa: E402  pipeline -> sample kind

NO_OUTPUTS = ["outputs.csv=", "outputs.json=", "outputs.overlays=", "outputs.review="]


def samples(mnist: str | None, count: int, seed: int, dpis: list[int]) -> Path:
    """Render (once) ``count`` samples of every kind the pipelines read."""
    from formreader.training.drawing import Digits
    from formreader.training.synth import write_samples

    folder = Path(tempfile.gettempdir()) / "formreader-bench-accuracy" / (
        f"seed{seed}-n{count}-dpi{'_'.join(map(str, dpis)) or 'random'}")
    done = folder / "done"
    if not done.exists():
        write_samples(folder, list(PIPELINES.values()), count, seed, Digits.load_test(mnist), dpis or None)
        done.write_text("")
    return folder


def score(folder: Path, threshold: float | None = None) -> dict:
    """Digit accuracy (edit distance against the truth) and field accuracy, per pipeline."""
    from formreader.config import load_pipeline
    from formreader.driver.pipeline import run
    from formreader.recognizer.model import load_model
    from formreader.training.evaluate import edit_distance

    rec = load_model()
    report: dict = {"pipelines": {}, "wrong": []}
    totals = {"digits": 0, "digit_errors": 0, "fields": 0, "fields_right": 0, "review": 0, "silent": 0}
    for name, kind in PIPELINES.items():
        overrides = NO_OUTPUTS + [f"inputs=[{folder}/{kind}-*.jpg]"]
        if threshold is not None:
            overrides.append(f"threshold={threshold}")
        cfg = load_pipeline(ROOT / "pipelines" / f"{name}.yaml", overrides)
        pages, _ = run(cfg, rec)
        k = dict.fromkeys(totals, 0)
        for page in pages:
            image = Path(page.source).name
            truth = json.loads((folder / image.replace(".jpg", ".truth.json")).read_text())
            read = {f.name: f for f in page.fields}
            for f in truth["fields"]:
                field = read.get(f["name"])
                got = field.value if field is not None else ""
                review = field is None or field.status == "review"
                k["digits"] += len(f["value"])
                k["digit_errors"] += edit_distance(f["value"], got)
                k["fields"] += 1
                k["fields_right"] += got == f["value"]
                k["review"] += review
                k["silent"] += got != f["value"] and not review
                if got != f["value"]:
                    flag = "review" if review else "ok, silent"
                    report["wrong"].append(f"{image}:{f['name']} {f['value']} -> {got or '(nothing)'} [{flag}]")
        report["pipelines"][name] = {**k, "digit_accuracy": 1 - k["digit_errors"] / max(k["digits"], 1),
                                     "field_accuracy": k["fields_right"] / max(k["fields"], 1)}
        for key in totals:
            totals[key] += k[key]
    report["all"] = {**totals, "digit_accuracy": 1 - totals["digit_errors"] / max(totals["digits"], 1),
                     "field_accuracy": totals["fields_right"] / max(totals["fields"], 1)}
    report["model"] = str(rec.path)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mnist", help="MNIST directory (default $FORMREADER_MNIST)")
    ap.add_argument("--count", type=int, default=16, help="samples per kind (default 16)")
    ap.add_argument("--seed", type=int, default=7000,
                    help="first seed (the committed golden samples use 1000-1007; default 7000)")
    ap.add_argument("--dpi", type=int, action="append", default=[],
                    help="resolutions to cycle through (default 150 and 200, as the golden set)")
    ap.add_argument("--model", help="model to score (default: the shipped one)")
    ap.add_argument("--threshold", type=float,
                    help="review threshold for every pipeline (default: each pipeline's own, 0.9)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    if args.model:
        os.environ["FORMREADER_MODEL"] = args.model
    t0 = time.perf_counter()
    from formreader.errors import FormreaderError

    try:
        folder = samples(args.mnist, args.count, args.seed, args.dpi or [150, 200])
    except FormreaderError as exc:
        sys.exit(f"bench_accuracy: {exc}")
    report = score(folder, args.threshold)
    report.update(seed=args.seed, count=args.count, seconds=round(time.perf_counter() - t0, 1))
    if args.json:
        print(json.dumps(report))
        return
    print(f"model {report['model']}; {args.count} fresh samples per kind from seed {args.seed} ({folder})")
    print(f"{'pipeline':<10} {'digits':>16} {'fields':>14} {'in review':>10} {'silent errors':>14}")
    for name, k in [*report["pipelines"].items(), ("all", report["all"])]:
        print(f"{name:<10} {k['digit_accuracy'] * 100:7.2f}% of {k['digits']:<5} "
              f"{k['field_accuracy'] * 100:6.2f}% of {k['fields']:<4} {k['review'] / max(k['fields'], 1) * 100:6.2f}% "
              f"{k['silent']:>6} ({k['silent'] / max(k['fields'], 1) * 100:.2f}%)")
    print(f"\n{len(report['wrong'])} wrong fields:")
    for w in report["wrong"]:
        print("  " + w)


if __name__ == "__main__":
    main()
