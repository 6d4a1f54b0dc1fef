"""Batches on a Dask cluster (``--scheduler``): the same bytes as a local run, no page lost when a
worker dies, and one-line errors when Dask or the scheduler is not there."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import parish
from formreader.cli import app
from formreader.driver.cluster import SchedulerError, cluster_map, parse_scheduler

pytestmark = pytest.mark.slow  # seconds each: `pytest -m "not slow"` skips them while iterating

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_scan_on_a_local_cluster_writes_the_same_bytes(tmp_path: Path) -> None:
    crops = [str(p) for p, _, _ in parish.crops("all")[::400]]
    files = [str(SAMPLES / "postal-000.jpg"), str(SAMPLES / "cheque-001.jpg"), *crops]
    out = {}
    for name, extra in (("local", ["--workers", "1"]), ("dask", ["--scheduler", "local:2"])):
        result = CliRunner().invoke(app, ["scan", *files, "-o", str(tmp_path / f"{name}.csv"), *extra])
        assert result.exit_code == 0, result.output
        out[name] = (tmp_path / f"{name}.csv").read_bytes()
    assert out["dask"] == out["local"]
    assert out["local"].count(b"\n") > len(files)  # a header and a row per field


def test_run_on_a_local_cluster_writes_the_same_bytes(tmp_path: Path) -> None:
    outs = {}
    for name, extra in (("local", []), ("dask", ["--scheduler", "local:2"])):
        folder = tmp_path / name
        folder.mkdir()
        for sample in ("postal-000.jpg", "postal-001.jpg"):
            (folder / sample).write_bytes((SAMPLES / sample).read_bytes())
        (folder / "p.yaml").write_text('inputs: ["*.jpg"]\noutputs: {csv: r.csv, review: review.html}\n')
        result = CliRunner().invoke(app, ["run", str(folder / "p.yaml"), *extra])
        assert result.exit_code == 0, result.output
        outs[name] = [(folder / f).read_bytes().replace(str(folder).encode(), b"DIR") for f in ("r.csv", "review.html")]
    assert outs["dask"] == outs["local"]


# Tasks for the worker-death tests: module-level so that Dask workers can import them.
def _dies_once(item: tuple[str, int]) -> int:
    """Kills its worker the first time it sees item 3 (a marker file remembers), then answers."""
    marker, n = item
    if n == 3 and not os.path.exists(marker):
        Path(marker).write_text("died")
        os._exit(1)
    return n * n


def _always_dies(item: tuple[str, int]) -> int:
    if item[1] == 2:
        os._exit(1)
    return item[1] * item[1]


def test_a_worker_that_dies_loses_no_item_and_a_poison_item_is_one_error(tmp_path: Path) -> None:
    marker = str(tmp_path / "died")
    got = list(cluster_map(_dies_once, [(marker, n) for n in range(6)], "local:2", on_crash=lambda it: -1))
    assert got == [0, 1, 4, 9, 16, 25] and Path(marker).exists()  # item 3 killed a worker and was retried
    got = list(cluster_map(_always_dies, [("", n) for n in range(5)], "local:2", on_crash=lambda it: -1))
    assert got == [0, 1, -1, 9, 16]


def _group_dies_on_two(group: tuple[int, ...]) -> list[int]:
    if 2 in group:
        os._exit(1)
    return [n * n for n in group]


def test_a_group_that_kills_its_workers_is_run_again_part_by_part(tmp_path: Path) -> None:
    groups = [(0, 1), (2, 3, 4), (5,)]
    got = list(cluster_map(_group_dies_on_two, groups, "local:2", on_crash=lambda g: [-1] * len(g),
                           split=lambda g: [(n,) for n in g]))
    assert got == [[0, 1], [-1, 9, 16], [25]]  # only the part that kills its worker is lost


@pytest.mark.parametrize("bad", ["local:0", "local:x", "localhost", "tcp://"])
def test_a_bad_scheduler_is_a_usage_error(bad: str, tmp_path: Path) -> None:
    with pytest.raises(SchedulerError):
        parse_scheduler(bad)
    result = CliRunner().invoke(app, ["scan", str(SAMPLES / "postal-000.jpg"), "--scheduler", bad])
    assert result.exit_code == 2 and "scheduler" in result.stderr and "Traceback" not in result.output


def test_without_dask_the_error_says_what_to_install(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    result = CliRunner().invoke(app, ["scan", str(SAMPLES / "postal-000.jpg"), "--scheduler", "local:1"])
    assert result.exit_code == 2, result.output
    assert "pip install 'formreader[dask]'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_no_dask_without_a_scheduler(tmp_path: Path) -> None:
    import subprocess

    code = ("import sys; from formreader.api import read; read(sys.argv[1]); "
            "print('distributed' in sys.modules or 'dask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(SAMPLES / "postal-000.jpg")], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_pipeline_names_its_scheduler_and_a_bad_one_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes((SAMPLES / "postal-000.jpg").read_bytes())
    pipe = tmp_path / "p.yaml"
    pipe.write_text('inputs: ["*.jpg"]\noutputs: {csv: r.csv}\nscheduler: local:1\n')
    result = CliRunner().invoke(app, ["run", str(pipe)])
    assert result.exit_code == 0, result.output
    local = CliRunner().invoke(app, ["run", str(pipe), "--set", "outputs.csv=s.csv", "--set", "scheduler="])
    assert local.exit_code == 0, local.output
    assert (tmp_path / "r.csv").read_bytes() == (tmp_path / "s.csv").read_bytes()
    bad = CliRunner().invoke(app, ["run", str(pipe), "--set", "scheduler=somewhere"])
    assert bad.exit_code == 2 and "scheduler" in bad.stderr and "Traceback" not in bad.output
