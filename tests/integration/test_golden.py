"""Golden samples: committed synthetic scans read by the shipped pipelines and model.

Each sample's output must equal its committed expected output (regenerate deliberately, see
samples/README.md), and across all samples the readings must meet the accuracy targets against
the generator's truth. The model is loaded once and every sample is read once per session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from formreader.config import load_pipeline
from formreader.driver.pipeline import run
from formreader.results import PageResult
from formreader.training.evaluate import edit_distance

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
EXPECTED = SAMPLES / "expected"
# sample kind -> the shipped pipeline that reads it
PIPELINES = {"cheque": "cheque", "postal": "postal", "numbers": "forms", "hsf": "nist-hsf"}
NO_OUTPUTS = ["outputs.csv=", "outputs.json=", "outputs.overlays=", "outputs.review="]
TRUTHS = sorted(SAMPLES.glob("*.truth.json"))
CONF_TOL = 2e-3  # confidences are rounded to 4 decimals; oneDNN kernels differ in the last bits


def truth_of(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def golden_results(recognizer) -> dict[str, PageResult]:
    """Every sample read by its pipeline, keyed by image file name."""
    out: dict[str, PageResult] = {}
    for pipeline in sorted(set(PIPELINES.values())):
        loaded = load_pipeline(ROOT / "pipelines" / f"{pipeline}.yaml", NO_OUTPUTS)
        pages, _ = run(loaded, recognizer)
        for page in pages:
            out[Path(page.source).name] = page
    return out


def expected_pages() -> dict[str, dict]:
    pages = {}
    for path in sorted(EXPECTED.glob("*.json")):
        for page in json.loads(path.read_text())["pages"]:
            pages[Path(page["source"]).name] = page
    return pages


def _same(actual: object, expected: object, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for k in expected:
            if k != "source":
                _same(actual[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _same(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(expected, bool):
        assert actual == pytest.approx(expected, abs=CONF_TOL), where
    else:
        assert actual == expected, where


def test_every_sample_has_truth_and_expected_output() -> None:
    assert len(TRUTHS) >= 24, "a few dozen committed samples"
    expected = expected_pages()
    for t in TRUTHS:
        image = truth_of(t)["image"]
        assert (SAMPLES / image).is_file(), image
        assert image in expected, f"{image}: no expected output; see samples/README.md"
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 5_000_000, "samples stay small"


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: p.name.split(".")[0])
def test_output_matches_committed_expected(truth_path: Path, golden_results: dict[str, PageResult]) -> None:
    image = truth_of(truth_path)["image"]
    expected = expected_pages()[image]
    _same(golden_results[image].to_dict(), expected, image)


def accuracy(golden_results: dict[str, PageResult], kind: str | None = None) -> dict[str, float]:
    digits = errors = fields = right = 0
    for t in TRUTHS:
        truth = truth_of(t)
        if kind is not None and truth["kind"] != kind:
            continue
        read = {f.name: f.value for f in golden_results[truth["image"]].fields}
        for f in truth["fields"]:
            got = read.get(f["name"], "")
            digits += len(f["value"])
            errors += edit_distance(f["value"], got)
            fields += 1
            right += got == f["value"]
    return {"digit": 1 - errors / digits, "field": right / fields, "digits": digits, "fields": fields}


def test_accuracy_against_truth(golden_results: dict[str, PageResult]) -> None:
    for kind in PIPELINES:
        k = accuracy(golden_results, kind)
        print(f"\n  {kind}: digits {k['digit']:.4f} of {k['digits']}, fields {k['field']:.4f} of {k['fields']}", end="")
    acc = accuracy(golden_results)
    print(f"\ngolden: digit accuracy {acc['digit']:.4f} over {acc['digits']} digits, "
          f"field accuracy {acc['field']:.4f} over {acc['fields']} fields")
    # Regression floors at what the shipped models and scanner measure: digits 0.9948 of 1535,
    # fields 0.9730 of 296 (8 wrong). Both targets (digits 0.99, fields 0.97: 8 wrong at most) are met, the field target with no
    # field to spare: the wrong fields left are single digits the models misread (a 3 as a 5, a
    # 9 as a 4 or 7), not segmentation. On fresh sample sets fields measure 96.0-96.5%
    # (benchmarks/bench_accuracy.py; README, "Current figures").
    assert acc["digit"] >= 0.9947
    assert acc["field"] >= 0.9729


def test_wrong_fields_are_flagged(golden_results: dict[str, PageResult]) -> None:
    """A misread field the clerk is not told about is the costly error. Measured with the first
    shipped model: 5 of 296 fields (1.7%); more than 2% means the review flag got worse."""
    silent = []
    for t in TRUTHS:
        truth = truth_of(t)
        read = {f.name: f for f in golden_results[truth["image"]].fields}
        for f in truth["fields"]:
            got = read[f["name"]]
            if got.value != f["value"] and got.status == "ok":
                silent.append(f"{truth['image']}:{f['name']} read {got.value!r} for {f['value']!r}")
    print(f"\n{len(silent)} misread fields marked ok: {silent}")
    assert len(silent) <= 0.02 * sum(len(truth_of(t)["fields"]) for t in TRUTHS), silent
