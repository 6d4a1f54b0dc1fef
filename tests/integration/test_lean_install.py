"""``pip install formreader`` reads without the training stack: no TensorFlow, Keras,
matplotlib, onnx or scikit-image, and the same readings; training says what to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ("tensorflow", "keras", "matplotlib", "onnx", "skimage", "scipy")
BLOCK = "import sys\nfor name in %r: sys.modules[name] = None\n" % (TRAINING,)


def test_the_base_install_leaves_the_training_stack_out() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"]).lower()
    for name in ("tensorflow", "keras", "matplotlib", "onnx>", "scikit-image", "scipy"):
        assert name not in base, name
    assert "onnxruntime" in base and any("tensorflow" in d for d in project["optional-dependencies"]["train"])


def test_reading_works_with_the_training_stack_missing(tmp_path: Path) -> None:
    code = BLOCK + (
        "from formreader.api import read\n"
        "from formreader.results import ScanOptions\n"
        f"pages = read([{str(ROOT / 'samples' / 'cheque-000.jpg')!r}, {str(ROOT / 'samples' / 'hsf-000.jpg')!r}])\n"
        "print([f.value for p in pages for f in p.fields])\n")
    lean = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert lean.returncode == 0, lean.stderr
    full = subprocess.run([sys.executable, "-c", code.replace(BLOCK, "")], capture_output=True, text=True,
                          cwd=tmp_path, check=True)
    assert lean.stdout == full.stdout and len(lean.stdout) > 20


def test_training_without_the_stack_says_what_to_install(tmp_path: Path) -> None:
    mnist = ROOT.parent / "shared" / "data" / "mnist"
    code = BLOCK + (f"sys.argv = ['formreader', 'train', '--out', 'x.keras', '--mnist', {str(mnist)!r}]\n"
                    "from formreader.cli import main\nmain()\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2 and "pip install 'formreader[train]'" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
