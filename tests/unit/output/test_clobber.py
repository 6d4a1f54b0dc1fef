"""Never overwrite what the user had: outputs that are inputs, the pipeline, or old overlays."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from formreader.cli import app
from formreader.errors import FormreaderError
from formreader.output.clobber import check_outputs, check_overlay_dir
from formreader.output.writers import atomic_write

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "postal-000.jpg"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(SAMPLE, tmp_path / name)
    return tmp_path


def invoke(*args: object, cwd: Path):
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)


@pytest.mark.parametrize("target", ["a.jpg", "./a.jpg", "sub/../a.jpg", "link.jpg"])
def test_scan_refuses_to_write_over_an_input(scans: Path, target: str) -> None:
    (scans / "sub").mkdir()
    (scans / "link.jpg").symlink_to(scans / "a.jpg")
    before = _digest(scans / "a.jpg")
    result = invoke("scan", "a.jpg", "b.jpg", "-o", target, cwd=scans)
    assert result.exit_code == 2
    assert "same file as the input" in result.output and "nothing was written" in result.output
    assert _digest(scans / "a.jpg") == before and (scans / "link.jpg").is_symlink()


def test_run_refuses_outputs_that_are_inputs_or_the_pipeline(scans: Path) -> None:
    yaml = scans / "p.yaml"
    for outputs, clash in [("{csv: a.jpg}", "input"), ("{json: p.yaml}", "pipeline"),
                           ("{csv: r.csv, json: r.csv}", "output")]:
        yaml.write_text(f'inputs: ["*.jpg"]\noutputs: {outputs}\n')
        text = yaml.read_text()
        before = _digest(scans / "a.jpg")
        result = invoke("run", "p.yaml", cwd=scans)
        assert result.exit_code == 2, result.output
        assert f"same file as the {clash}" in result.output
        assert yaml.read_text() == text and _digest(scans / "a.jpg") == before
        assert not (scans / "r.csv").exists()


def test_overlays_already_there_are_kept_unless_forced(scans: Path) -> None:
    first = invoke("scan", "a.jpg", "--overlay", "ov", "-o", "r.json", cwd=scans)
    assert first.exit_code == 0
    png = scans / "ov" / "a-p1.png"
    png.write_bytes(b"the user's own file")
    again = invoke("scan", "a.jpg", "--overlay", "ov", "-o", "r2.json", cwd=scans)
    assert again.exit_code == 2 and "a-p1.png" in again.output and "--force" in again.output
    assert png.read_bytes() == b"the user's own file" and not (scans / "r2.json").exists()
    forced = invoke("scan", "a.jpg", "--overlay", "ov", "-o", "r2.json", "--force", cwd=scans)
    assert forced.exit_code == 0 and png.read_bytes()[:4] == b"\x89PNG"


def test_overlay_folder_with_other_files_is_fine(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "other-p1.png").write_bytes(b"x")
    check_overlay_dir(tmp_path, ["a", "b"])  # nothing of this batch's
    with pytest.raises(FormreaderError, match="b-p12.png"):
        (tmp_path / "b-p12.png").write_bytes(b"x")
        check_overlay_dir(tmp_path, ["a", "b"])


def test_special_files_are_written_in_place_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    check_outputs([("-o", fifo)], [fifo])  # a FIFO is never a clash: it is written to
    pid = os.fork()
    if pid == 0:  # the reader at the other end
        with open(fifo, "rb") as fh:
            data = fh.read()
        os._exit(0 if data == b"results\n" else 1)
    with atomic_write(fifo) as fh:
        fh.write("results\n")
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert fifo.is_fifo()  # still the user's pipe, not a regular file


def test_writing_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with atomic_write(link) as fh:
        fh.write("new")
    assert link.is_symlink() and real.read_text() == "new"
