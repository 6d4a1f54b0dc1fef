"""The package layout shows the data flow: subpackages import only from those before them.

io -> imaging -> recognizer -> rules -> reading -> output -> driver -> training. The top-level
modules ``errors`` and ``results`` are the shared vocabulary and import no subpackage; the
``config`` package (the pipeline YAML) may use ``io`` (input globs, URLs); ``api`` and ``cli`` sit
on top of everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "formreader"
ORDER = ["io", "imaging", "recognizer", "rules", "reading", "output", "driver", "training"]
# What each top-level module may import: the subpackages before this rank.
TOP_RANK = {"errors": 0, "results": 0, "config": 1, "api": len(ORDER), "cli": len(ORDER),
            "__init__": len(ORDER), "__main__": len(ORDER)}
MAX_LINES = 500


def _imports(path: Path) -> set[str]:
    """The formreader subpackages (or top-level modules) a module imports, lazily or not."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("formreader."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("formreader."))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; the package uses absolute imports")
    return names


def _rank(path: Path) -> int:
    rel = path.relative_to(PACKAGE).parts
    if len(rel) == 1:
        return TOP_RANK[path.stem]
    return TOP_RANK[rel[0]] if rel[0] in TOP_RANK else ORDER.index(rel[0])


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path: Path) -> None:
    rank = _rank(path)
    own = path.relative_to(PACKAGE).parts[0] if path.parent != PACKAGE else None
    for name in _imports(path):
        if name in ORDER:
            assert name == own or ORDER.index(name) < rank, f"{path.name} ({own or 'top'}) imports {name}"
        else:  # a top-level module
            assert name == own or TOP_RANK[name] <= rank, f"{path.name} ({own or 'top'}) imports {name}"


def test_subpackages_hold_the_stages() -> None:
    subs = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert subs == sorted(ORDER + ["config"])
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert set(top) <= set(TOP_RANK), f"flat modules outside the stages: {set(top) - set(TOP_RANK)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_short(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name}: {lines} lines; split it by job (at most {MAX_LINES})"


def test_every_subpackage_is_installed() -> None:
    """``pip install .`` carries only the packages pyproject lists: a new subpackage left out
    works in the source tree and fails in an installed formreader."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    subs = {"formreader." + p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subs <= listed, f"missing from pyproject.toml [tool.setuptools] packages: {sorted(subs - listed)}"


MAX_FUNCTION_LINES = 60


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_long_functions_say_why(path: Path) -> None:
    """A function whose code (after its signature and docstring: a typer command's options and
    help are declarations) runs over 60 lines is split by job, or says in its docstring why it
    is kept in one piece (a training run told in order)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node) or ""
            body = node.body[1:] if doc else node.body
            lines = (node.end_lineno - body[0].lineno + 1) if body else 0  # type: ignore[operator]
            assert lines <= MAX_FUNCTION_LINES or "Kept in one piece:" in doc, \
                f"{path.name}:{node.lineno} {node.name}: {lines} lines; split it, or say why it is kept in one piece"
