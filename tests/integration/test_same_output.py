"""The exact output on a fixed sample of real crops and on the real NIST page is committed, so
a restructuring, a speed-up or a dependency upgrade that changes any reading is seen.

Every 25th parish crop (279 crops, all 13 books) read as field images, and the NIST form read
as a page. When a change is meant to alter readings, regenerate with
``python tests/integration/test_same_output.py`` and say in the commit what changed and why. (The shipped
samples are compared the same way in tests/integration/test_golden.py.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import parish
from formreader.cli import app

HERE = Path(__file__).resolve().parents[1]
EXPECTED = HERE / "data" / "same-output"
NIST = parish.ROOT.parent / "shared" / "data" / "scans" / "nist-hsf-f0000.png"
STEP = 25
CONF_TOL = 2e-3  # confidences are rounded to 4 decimals; CPU kernels may differ in the last bits


def _cases() -> dict[str, list[str]]:
    crops = [str(p) for p, _, _ in parish.crops("all")[::STEP]]
    return {"parish-crops": ["--mode", "field", *crops], "nist-page": [str(NIST)]}


def _read(args: list[str], out: Path) -> dict:
    result = CliRunner().invoke(app, ["scan", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    for page in doc["pages"]:  # where the data lives is not part of the output under test
        page["source"] = Path(page["source"]).name
    return doc


def _same(actual: object, expected: object, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for k in expected:
            _same(actual[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _same(a, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=CONF_TOL), where
    else:
        assert actual == expected, where


@pytest.mark.parametrize("case", sorted(_cases()))
def test_readings_are_unchanged(case: str, tmp_path: Path) -> None:
    expected = json.loads((EXPECTED / f"{case}.json").read_text())
    _same(_read(_cases()[case], tmp_path / "out.json"), expected, case)


if __name__ == "__main__":
    import tempfile

    EXPECTED.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in _cases().items():
            doc = _read(args, Path(tmp) / "out.json")
            (EXPECTED / f"{name}.json").write_text(json.dumps(doc, indent=0, sort_keys=False) + "\n")
            print(f"wrote {EXPECTED / name}.json", file=sys.stderr)
