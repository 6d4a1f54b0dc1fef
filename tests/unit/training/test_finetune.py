"""``formreader train --fields``: labels read row by row, a bundle that reads, refuses what it
cannot read, and the same bundle for the same seed and data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import parish
from formreader.cli import app
from formreader.errors import DataError, ModelError
from formreader.recognizer.bundle import read_manifest
from formreader.training.finetune import read_labels, split


def _labels(folder: Path, rows: list[tuple[str, str]]) -> Path:
    path = folder / "LABELS.csv"
    path.write_text("image,value\n" + "".join(f"{i},{v}\n" for i, v in rows))
    return path


def test_bad_rows_are_named_by_line_and_skipped(tmp_path: Path) -> None:
    crop, label, _ = parish.crops("dev")[0]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    path = _labels(tmp_path, [(str(crop), label), ("nowhere.jpg", "12"), (str(crop), "4a"),
                              ("broken.png", "7"), (str(crop), "")])
    rows, problems = read_labels(path)
    assert [(r.line, r.value) for r in rows] == [(2, label)]
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{n}" for n in (3, 4, 5, 6)]
    assert "not found" in problems[0] and "not digits" in problems[1] and "cannot read" in problems[2]
    with pytest.raises(DataError, match="no usable row"):
        read_labels(_labels(tmp_path, [("nowhere.jpg", "1")]))
    (tmp_path / "other.csv").write_text("file,label\na,1\n")
    with pytest.raises(DataError, match="image,value"):
        read_labels(tmp_path / "other.csv")


def test_the_held_out_share_is_seeded_and_never_empty() -> None:
    from formreader.training.finetune import LabelledField

    rows = [LabelledField(i, Path(f"{i}.png"), str(i)) for i in range(2, 52)]
    train, held = split(rows, 0.1, seed=3)
    assert len(held) == 5 and len(train) == 45 and not set(train) & set(held)
    assert split(rows, 0.1, seed=3) == (train, held) and split(rows, 0.1, seed=4) != (train, held)
    assert len(split(rows[:3], 0.1, seed=1)[1]) == 1


@pytest.mark.slow
def test_a_bundle_is_written_read_with_and_the_same_for_the_same_seed(tmp_path: Path, mnist_dir,
                                                                    monkeypatch) -> None:
    rows = [(str(p), label) for p, label, _ in parish.crops("dev")[::120] if label.isdigit()][:40]
    labels = _labels(tmp_path, rows)
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = CliRunner().invoke(app, ["train", "--fields", str(labels), "--out", str(out), "--mnist",
                                          str(mnist_dir), "--field-epochs", "1", "--field-steps", "8", "--force"])
        assert result.exit_code == 0, result.output
        outs.append(out)
    manifest = read_manifest(outs[0])
    assert manifest["labels"]["fields"] == 40 and manifest["labels"]["held_out"] == 4
    assert set(manifest) >= {"held_out_before", "held_out_after", "formreader_version", "base"}
    for name in ("strings.onnx", "manifest.json"):
        a, b = (o / name for o in outs)
        if name == "manifest.json":
            strip = lambda d: {k: v for k, v in json.loads(d.read_text()).items() if k != "training_seconds"}
            assert strip(a) == strip(b)
        else:
            assert a.read_bytes() == b.read_bytes(), name
    scanned = CliRunner().invoke(app, ["scan", rows[0][0], "--model", str(outs[0]), "--format", "csv"])
    assert scanned.exit_code == 0, scanned.output
    from formreader.recognizer.model import load_model

    monkeypatch.setenv("FORMREADER_MODEL", str(outs[0]))  # the environment may name a bundle too
    assert load_model().strings_path == outs[0] / "strings.onnx"
    again = CliRunner().invoke(app, ["train", "--fields", str(labels), "--out", str(outs[0]), "--mnist", str(mnist_dir)])
    assert again.exit_code == 3 and "already exists" in again.stderr


def test_a_bundle_of_another_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps({"bundle_format": 99, "formreader_version": "9.0"}))
    with pytest.raises(ModelError, match="bundle format 99 .*reads format 1"):
        read_manifest(tmp_path)
    crop = parish.crops("dev")[0][0]
    result = CliRunner().invoke(app, ["scan", str(crop), "--model", str(tmp_path)])
    assert result.exit_code == 2 and "bundle format 99" in result.stderr


def test_few_fields_still_train_for_the_least_steps_and_every_pass_sees_each_field_once() -> None:
    import numpy as np

    from formreader.training.finetune import FineTuneConfig, _batches, _steps

    cfg = FineTuneConfig(epochs=3, min_steps=50)
    assert _steps(180, 16, cfg) == 50 and _steps(4800, 16, cfg) == 900
    batches = list(_batches(10, 4, 5, np.random.default_rng(0)))
    assert len(batches) == 5 and all(len(b) == 4 for b in batches)
    seen = np.concatenate(batches)
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == sorted(set(seen[10:]))
    assert all(np.array_equal(a, b) for a, b in zip(batches, _batches(10, 4, 5, np.random.default_rng(0))))
