"""One batch driver for ``scan``, ``run`` and the API: the same results whichever way a batch is
driven, and one bad page never costs the others their results."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from formreader.cli import app

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _pipeline(folder: Path, names: list[str], extra: str = "") -> Path:
    for name in names:
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    pipe = folder / "p.yaml"
    pipe.write_text('inputs: ["*.jpg"]\n'
                    "outputs: {csv: r.csv, json: r.json, review: review.html, overlays: ov}\n" + extra)
    return pipe


def test_run_with_workers_writes_the_same_bytes(tmp_path: Path) -> None:
    names = ["postal-000.jpg", "postal-001.jpg", "cheque-000.jpg"]
    outs = {}
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        result = CliRunner().invoke(app, ["run", str(_pipeline(folder, names)), "--workers", str(workers)])
        assert result.exit_code == 0, result.output
        outs[workers] = {p.relative_to(folder).as_posix(): p.read_bytes().replace(str(folder).encode(), b"DIR")
                         for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".yaml"}
    assert outs[1].keys() == outs[2].keys()
    assert sorted(k for k in outs[1] if k.startswith("ov/")) == ["ov/cheque-000-p1.png", "ov/postal-000-p1.png",
                                                                 "ov/postal-001-p1.png"]
    for name in outs[1]:
        if name.endswith(".png"):
            continue  # overlays: PNG bytes depend on the encoder only; their names are compared above
        assert outs[1][name] == outs[2][name], name


def test_run_and_scan_read_a_page_the_same_way(tmp_path: Path) -> None:
    """Without named fields a pipeline is a scan with outputs: the same fields, values and
    confidences as ``formreader scan`` of the same file."""
    pipe = _pipeline(tmp_path, ["postal-000.jpg"])
    assert CliRunner().invoke(app, ["run", str(pipe)]).exit_code == 0
    scanned = CliRunner().invoke(app, ["scan", str(tmp_path / "postal-000.jpg"), "-o", str(tmp_path / "s.json")])
    assert scanned.exit_code == 0, scanned.output
    ran = json.loads((tmp_path / "r.json").read_text())["pages"][0]
    scan = json.loads((tmp_path / "s.json").read_text())["pages"][0]
    assert ran["fields"] == scan["fields"] and ran["layout"] == scan["layout"]


def test_run_keeps_the_good_pages_when_the_reader_fails_on_one(tmp_path: Path, monkeypatch) -> None:
    from formreader.reading import page as page_reader

    real = page_reader.read_page

    def fails_on_cheques(gray, *args, **kwargs):
        if gray.shape[1] > 1.8 * gray.shape[0]:  # the cheque sample is the wide one
            raise ValueError("a bug in a stage")
        return real(gray, *args, **kwargs)

    monkeypatch.setattr(page_reader, "read_page", fails_on_cheques)
    pipe = _pipeline(tmp_path, ["postal-000.jpg", "cheque-000.jpg"])
    result = CliRunner().invoke(app, ["run", str(pipe)])
    assert result.exit_code == 1, result.output
    assert "cheque-000.jpg: page 1: could not read page (ValueError: a bug in a stage)" in result.stderr
    pages = {Path(p["source"]).name: p for p in json.loads((tmp_path / "r.json").read_text())["pages"]}
    assert pages["cheque-000.jpg"]["error"] and not pages["cheque-000.jpg"]["fields"]
    assert pages["postal-000.jpg"]["error"] is None and pages["postal-000.jpg"]["fields"]
