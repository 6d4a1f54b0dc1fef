"""Inputs named by URL go through fsspec: the same readings as the local files, sources kept as
the URLs, and one-line errors for what cannot be listed or fetched."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from formreader.cli import app
from formreader.io.remote import is_url

fsspec = pytest.importorskip("fsspec")
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NAMES = ["postal-000.jpg", "postal-001.jpg", "cheque-002.jpg"]


def test_is_url_knows_a_url_from_a_path() -> None:
    assert is_url("s3://bucket/a.png") and is_url("memory://x/y.jpg")
    assert not is_url("scans/a.png") and not is_url("file:///tmp/a.png") and not is_url("C:/a.png")


def test_a_batch_by_url_reads_as_the_same_files_on_disk(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    for name in NAMES:
        fs.pipe(f"/batch/{name}", (SAMPLES / name).read_bytes())
    fs.pipe("/batch/broken.jpg", b"\xff\xd8\xff not a jpeg")
    remote = CliRunner().invoke(app, ["scan", "memory://batch/*.jpg", "--format", "csv"])
    local = CliRunner().invoke(app, ["scan", *[str(SAMPLES / n) for n in NAMES], "--format", "csv"])
    assert local.exit_code == 0 and remote.exit_code == 1, remote.output  # the broken one failed
    rows = list(csv.DictReader(io.StringIO(remote.stdout)))
    urls = {fs.unstrip_protocol(f"/batch/{n}") for n in [*NAMES, "broken.jpg"]}  # fsspec's own spelling
    assert {r["source"] for r in rows} == urls
    broken = [r for r in rows if r["source"].endswith("broken.jpg")]
    assert broken[0]["status"] == "error" and broken[0]["reason"].startswith(fs.unstrip_protocol("/batch/broken.jpg"))
    assert "formreader-" not in remote.stderr  # messages name the URL, never the temporary copy
    values = lambda out: sorted((Path(r["source"]).name, r["field"], r["value"], r["status"])  # noqa: E731
                                for r in csv.DictReader(io.StringIO(out)) if r["status"] != "error")
    assert values(remote.stdout) == values(local.stdout)


def test_a_url_that_matches_nothing_is_a_warning_and_no_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["scan", "memory://nothing/here/*.png"])
    assert result.exit_code == 2 and "no files match" in result.stderr and "Traceback" not in result.output


def test_results_can_go_to_a_url_and_arrive_whole(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    sample = str(SAMPLES / NAMES[0])
    local = tmp_path / "r.csv"
    assert CliRunner().invoke(app, ["scan", sample, "-o", str(local)]).exit_code == 0
    result = CliRunner().invoke(app, ["scan", sample, "-o", "memory://results/r.csv"])
    assert result.exit_code == 0, result.output
    assert fs.cat("/results/r.csv") == local.read_bytes()
    clash = CliRunner().invoke(app, ["scan", "memory://results/r.csv", "-o", "memory://results/r.csv"])
    assert clash.exit_code == 2 and "same file" in clash.stderr


def test_a_pipeline_reads_and_writes_urls_like_local_files(tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    for name in NAMES:
        fs.pipe(f"/pipe/in/{name}", (SAMPLES / name).read_bytes())
    local = tmp_path / "local.yaml"
    local.write_text(f"inputs: [{', '.join(str(SAMPLES / n) for n in NAMES)}]\nthreshold: 0.999\n"
                     f"outputs: {{csv: {tmp_path / 'r.csv'}, review: {tmp_path / 'review.html'}}}\n")
    remote = tmp_path / "remote.yaml"
    remote.write_text("inputs: ['memory://pipe/in/*.jpg']\nthreshold: 0.999\n"
                      "outputs: {csv: 'memory://pipe/out/r.csv', review: 'memory://pipe/out/review.html'}\n")
    assert CliRunner().invoke(app, ["run", str(local)]).exit_code == 0
    result = CliRunner().invoke(app, ["run", str(remote)])
    assert result.exit_code == 0, result.output
    rows = lambda text: sorted((Path(r["source"]).name, r["field"], r["value"], r["status"])  # noqa: E731
                              for r in csv.DictReader(io.StringIO(text)))
    assert rows(fs.cat("/pipe/out/r.csv").decode()) == rows((tmp_path / "r.csv").read_text())
    crops = (tmp_path / "review.html").read_bytes().count(b"<img")
    assert crops > 0 and fs.cat("/pipe/out/review.html").count(b"<img") == crops


@pytest.mark.parametrize("yaml, problem", [
    ("inputs: ['memory://pipe/none/*.png']\n", "inputs[0]: 'memory://pipe/none/*.png' matches no file"),
    ("inputs: ['memory://pipe/in/*.jpg']\noutputs: {overlays: 'memory://pipe/ov'}\n",
     "outputs.overlays: overlays are written to a folder, not a URL"),
])
def test_a_pipeline_url_problem_names_the_key(tmp_path: Path, yaml: str, problem: str) -> None:
    fsspec.filesystem("memory").pipe("/pipe/in/a.jpg", (SAMPLES / NAMES[0]).read_bytes())
    (tmp_path / "p.yaml").write_text(yaml)
    result = CliRunner().invoke(app, ["run", str(tmp_path / "p.yaml"), "--check"])
    assert result.exit_code == 2 and problem in result.stderr and "Traceback" not in result.output
