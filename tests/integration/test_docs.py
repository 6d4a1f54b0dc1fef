"""The documentation runs as written: every Python block in README and docs/ is executed (in a
copy of the samples and pipelines, so nothing in the repository is written), and every
``formreader`` command shown in a code block names a command that exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)


def _blocks(kind: str) -> list[tuple[str, str]]:
    return [(f"{doc.name}#{i}", body) for doc in DOCS
            for i, (lang, body) in enumerate(BLOCK.findall(doc.read_text())) if lang == kind]


@pytest.mark.slow
@pytest.mark.parametrize("name,code", _blocks("python"), ids=lambda v: v if "#" in str(v) else "")
def test_python_blocks_run(name: str, code: str, tmp_path: Path) -> None:
    for folder in ("samples", "pipelines"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, f"{name}:\n{run.stderr[-2000:]}"


def test_commands_shown_exist() -> None:
    from typer.main import get_command

    from formreader.cli import app

    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    shown = {m for doc in DOCS for _, body in BLOCK.findall(doc.read_text())
             for m in re.findall(r"(?:^|\s|`)formreader (\w+)", body)}
    assert shown and shown <= commands, shown - commands
