"""The documentation is true to the code: every Python block in README and docs/ runs (in a copy of
the samples and pipelines, so nothing in the repository is written); every ``formreader`` command
shown names a command and options that exist, and the shell sessions shown give the output shown;
every option, exit code, output key, CSV column and public name is documented; links lead to
files that exist."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)
SHELL = {"", "sh", "console", "shell", "bash"}  # code block languages that hold commands
# Real field crops (../shared): a session that reads ``crops/`` gets the crops its output names.
CROPS = ROOT.parent / "shared" / "data" / "fields" / "parish-rows" / "images"
CHEAP_FILES = 3  # a session reading more input files than this is marked slow
HISTORY = re.compile(r"\b(sessions? \d+|issue #?\d+|work period|previously|formerly|new in)\b", re.I)


def _text(doc: Path) -> str:
    return doc.read_text(encoding="utf-8")


def _name(doc: Path) -> str:
    return str(doc.relative_to(ROOT))


def _blocks(kind: str) -> list[tuple[str, str]]:
    return [(f"{doc.name}#{i}", body) for doc in DOCS
            for i, (lang, body) in enumerate(BLOCK.findall(_text(doc))) if lang == kind]


def _cli() -> Any:
    from typer.main import get_command

    from formreader.cli import app

    return get_command(app)


def _option_names(command: Any) -> set[str]:
    """A click command's option names, ``--no-x`` included (click's own or the one typer vendors)."""
    return {name for p in command.params if p.param_type_name == "option" for name in (*p.opts, *p.secondary_opts)}


def _cut(command: str) -> str:
    """The formreader command alone: without a comment, a shell pipe, redirection or ``&&``."""
    return re.split(r"\s(?:#|&&|;|\|\||\|(?=\s+[a-z])|\d?>)", command)[0].strip()


def _block_lines(body: str) -> list[str]:
    return body.replace("\\\n", " ").splitlines()


def _shown_commands(inline: bool = True) -> list[tuple[str, str]]:
    """(where, command) for every ``formreader ...`` command in a shell block (a ``$ `` prompt
    dropped, continuation lines joined), and, with ``inline``, in inline code."""
    out = []
    for doc in DOCS:
        text = _text(doc)
        for i, (lang, body) in enumerate(BLOCK.findall(text)):
            if lang not in SHELL:
                continue
            lines = _block_lines(body)
            prompted = any(line.startswith("$ ") for line in lines)
            for line in lines:
                if prompted and not line.startswith("$ "):
                    continue  # shown output
                found = re.search(r"(?:^|\s)(formreader\s.*)", line.removeprefix("$ "))
                if found:
                    out.append((f"{doc.name}#{i}", _cut(found.group(1))))
        if inline:
            for span in re.findall(r"`(formreader\s[^`]+)`", BLOCK.sub("", text)):
                out.append((f"{doc.name} (inline)", _cut(" ".join(span.split()))))
    return out


def _tokens(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def _split(tokens: list[str]) -> tuple[list[str], str | None, list[str]]:
    """formreader's own options, the command's name, and its arguments."""
    i = 1
    while i < len(tokens) and tokens[i].strip("[]").startswith("-"):
        i += 1
    return tokens[1:i], tokens[i] if i < len(tokens) else None, tokens[i + 1 :]


def _options_in(tokens: list[str]) -> list[str]:
    """The options a (possibly synopsis-style: ``[--workers N | --scheduler S]``) command names."""
    found = []
    for token in tokens:
        token = token.lstrip("[(")
        match = re.match(r"(--?[a-zA-Z][\w-]*)", token)
        if match:
            found.append(match.group(1))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name,code", [pytest.param(name, code, id=name) for name, code in _blocks("python")])
def test_python_blocks_run(name: str, code: str, tmp_path: Path) -> None:
    for folder in ("samples", "pipelines"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, f"{name}:\n{run.stderr[-2000:]}"


def test_commands_shown_exist() -> None:
    commands = set(_cli().commands)
    shown = {m for doc in DOCS for _, body in BLOCK.findall(_text(doc))
             for m in re.findall(r"(?:^|\s|`)formreader (\w+)", body)}
    assert shown and shown <= commands, shown - commands


def test_options_shown_exist() -> None:
    """Every ``--option`` after ``formreader COMMAND``, in code blocks and inline code, is one of
    that command's options."""
    cli = _cli()
    wrong = []
    for where, command in _shown_commands():
        globals_, name, args = _split(_tokens(command))
        wrong += [f"{where}: {command}: formreader {opt}" for opt in _options_in(globals_)
                  if opt not in _option_names(cli) | {"--help"}]
        if name in cli.commands:
            known = _option_names(cli.commands[name]) | {"--help"}
            wrong += [f"{where}: {command}: {opt}" for opt in _options_in(args) if opt not in known]
    assert not wrong, "\n".join(wrong)


def test_commands_shown_parse() -> None:
    """Every complete command in a code block (not a synopsis with ``[OPTIONS]`` or ``PATH...``)
    is accepted by the command line: its options, their values and its arguments."""
    try:  # typer's usage errors, as formreader.cli catches them
        from typer.exceptions import TyperException as UsageError
    except ImportError:  # typer before it vendored click
        from click.exceptions import ClickException as UsageError  # type: ignore[assignment]

    cli = _cli()
    wrong = []
    for where, command in _shown_commands(inline=False):
        tokens = _tokens(command)
        if any(c in t for t in tokens for c in "[]|<>") or any("..." in t for t in tokens) or "--help" in tokens:
            continue
        _, name, args = _split(tokens)
        if name not in cli.commands:
            continue  # test_commands_shown_exist says so
        try:
            cli.commands[name].make_context(name, list(args), parent=cli.context_class(cli, info_name="formreader"))
        except UsageError as exc:
            wrong.append(f"{where}: {command}: {exc.format_message()}")
    assert not wrong, "\n".join(wrong)


def _usage_sections() -> dict[str, str]:
    """docs/usage.md's ``## `formreader COMMAND` `` sections by command (``""``: formreader itself)."""
    parts = re.split(r"^## `formreader ?(\w*)`\n", _text(ROOT / "docs" / "usage.md"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_option_documented() -> None:
    """docs/usage.md has a section per command, and each names every option of its command."""
    cli = _cli()
    sections = _usage_sections()
    missing = []
    for name, command in [("", cli), *cli.commands.items()]:
        if name not in sections:
            missing.append(f"the section ## `{' '.join(('formreader', name)).strip()}`")
            continue
        for opt in sorted(_option_names(command)):
            if not re.search(rf"`{re.escape(opt)}(?![\w-])", sections[name]):
                missing.append(f"formreader {name} {opt}")
    assert "--help" in sections.get("", "")
    assert not missing, "not in docs/usage.md: " + ", ".join(missing)


def test_exit_codes_documented() -> None:
    from formreader.errors import ExitCode

    text = _text(ROOT / "docs" / "outputs.md")
    missing = [code.name for code in ExitCode if not re.search(rf"^\| {code.value} \| `{code.name}` \|", text, re.M)]
    assert not missing, f"docs/outputs.md's exit code table lacks {missing}"


def test_csv_header_documented() -> None:
    """docs/outputs.md shows the CSV writer's own header line."""
    from formreader.output.writers import CsvWriter

    stream = io.StringIO()
    CsvWriter(stream).finish()
    header = stream.getvalue().strip()
    shown = [body.splitlines()[0] for _, body in BLOCK.findall(_text(ROOT / "docs" / "outputs.md"))
             if body.startswith("source,")]
    assert shown == [header], (shown, header)


def test_json_keys_documented() -> None:
    """Every key a page, a field, a digit and a field's string_reader can have is described in
    docs/outputs.md, and every JSON block there is valid JSON."""
    from formreader.results import Digit, Field, PageResult

    digit = Digit("4", 0.5, (1, 2, 3, 4))
    field = Field("f", "4", 0.5, "review", (1, 2, 3, 4), [digit], reason="r", text="4.", second=("4.", (0.9, 0.8)))
    page = PageResult("a.png", 1, 10, 10, [field], error="e", layout="field", rotation=90).to_dict()
    keys = {*page, *page["fields"][0], *page["fields"][0]["digits"][0], *page["fields"][0]["string_reader"]}
    text = _text(ROOT / "docs" / "outputs.md")
    assert not {k for k in keys if f"`{k}`" not in text}, "keys not in docs/outputs.md"
    for lang, body in BLOCK.findall(text):
        if lang == "json":
            json.loads(body)


def test_api_names_documented() -> None:
    import formreader

    text = _text(ROOT / "docs" / "api.md")
    missing = [name for name in formreader.__all__ if f"`{name}`" not in text]
    assert not missing, f"not in docs/api.md: {missing}"


def _anchors(doc: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    headings = re.findall(r"^#+ (.+)$", BLOCK.sub("", _text(doc)), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_local_links_exist() -> None:
    """Every link (and image) to a local file leads to a file that exists, and an anchor to a
    heading that exists."""
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", BLOCK.sub("", _text(doc))):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                broken.append(f"{_name(doc)}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{_name(doc)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_readme_is_short_and_links_every_doc() -> None:
    text = _text(README)
    assert len(text.splitlines()) <= 200, "README is for users; reference material goes in docs/"
    unlinked = [_name(doc) for doc in DOCS[1:] if f"]({_name(doc)})" not in text]
    assert not unlinked, f"README does not link {unlinked}"


def test_docs_describe_the_product_not_its_history() -> None:
    found = [f"{_name(doc)}: {m.group(0)}" for doc in DOCS for m in HISTORY.finditer(_text(doc))]
    assert not found, found


# --- the shell sessions shown --------------------------------------------------------------------

SAFE_TOOLS = {"formreader", "grep", "head", "tail", "cat", "ls", "wc", "cut", "sort"}


def _sessions() -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """(where, [(command, output shown)]) for every shell block with ``$ `` prompts that runs a
    ``formreader scan`` or ``formreader run`` and nothing but read-only tools besides."""
    out = []
    for doc in DOCS:
        for i, (lang, body) in enumerate(BLOCK.findall(_text(doc))):
            lines = _block_lines(body)
            if lang not in SHELL or not any(line.startswith("$ ") for line in lines):
                continue
            steps: list[tuple[str, list[str]]] = []
            for line in lines:
                if line.startswith("$ "):
                    steps.append((line[2:].strip(), []))
                elif steps:
                    steps[-1][1].append(line)
            tools = {(_tokens(part) or [''])[0] for cmd, _ in steps for part in re.split(r"\|\|?|&&|;", cmd)}
            reads = any(re.match(r"formreader (scan|run)\b", cmd) for cmd, _ in steps)
            remote = any("--scheduler" in cmd or "://" in cmd for cmd, _ in steps)
            if reads and tools <= SAFE_TOOLS and not remote:
                out.append((f"{doc.name}#{i}", steps))
    return out


def _crops_named(steps: list[tuple[str, list[str]]]) -> list[str]:
    return sorted({name for _, shown in steps for line in shown for name in re.findall(r"\bcrops/([\w.-]+)", line)})


def _files_read(steps: list[tuple[str, list[str]]]) -> int:
    """How many input files a session reads (in the repository's samples and pipelines)."""
    from formreader.config import load_pipeline
    from formreader.errors import FormreaderError

    cli = _cli()
    count = 0
    for command, _ in steps:
        _, name, args = _split(_tokens(command))
        try:
            params = cli.commands[name].make_context(name, list(args)).params if name in ("scan", "run") else {}
        except Exception:  # a command that does not parse: test_commands_shown_parse names it
            continue
        if name == "scan":
            for path in params["paths"]:
                full = ROOT / path
                if path.rstrip("/") == "crops":
                    count += len(_crops_named(steps))
                elif full.is_dir():
                    count += sum(1 for f in full.iterdir() if f.suffix.lower() in (".png", ".jpg", ".tif", ".pdf"))
                elif re.search(r"[*?\[]", path):
                    count += len(list(ROOT.glob(path)))
                else:
                    count += 1
        elif name == "run" and not params["check"]:
            try:
                count += len(load_pipeline(ROOT / params["pipeline"], list(params["overrides"])).files)
            except FormreaderError:
                pass
    return count


def _session_params() -> list[Any]:
    out = []
    for where, steps in _sessions():
        slow = [pytest.mark.slow] if _files_read(steps) > CHEAP_FILES else []
        out.append(pytest.param(where, steps, id=where, marks=slow))
    return out


NUMBER = re.compile(r"\d+\.\d+")


def _same_line(shown: str, actual: str) -> bool:
    """The same line, a confidence allowed to differ in its last digits (another CPU, another
    ONNX Runtime)."""
    if NUMBER.split(shown) != NUMBER.split(actual):
        return False
    return all(abs(float(a) - float(b)) <= 0.01 for a, b in zip(NUMBER.findall(shown), NUMBER.findall(actual)))


@pytest.mark.parametrize("where,steps", _session_params())
def test_shell_sessions_give_the_output_shown(where: str, steps: list[tuple[str, list[str]]],
                                              tmp_path: Path) -> None:
    """Each ``$ command`` of a session runs in a copy of the samples and pipelines and prints
    every line shown under it (``...`` stands for lines left out); it exits 0 unless the lines
    shown include its error."""
    for folder in ("samples", "pipelines"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    crops = _crops_named(steps)
    if crops:
        if not CROPS.is_dir():
            pytest.skip(f"{CROPS} not available (tests expect ../shared beside the repository)")
        (tmp_path / "crops").mkdir()
        for name in crops:
            shutil.copy(CROPS / name, tmp_path / "crops" / name)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for command, shown in steps:
        run = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, env=env)
        actual = (run.stdout + run.stderr).splitlines()
        missing = [line for line in shown if line != "..." and not any(_same_line(line, a) for a in actual)]
        assert not missing, f"{where}: $ {command}\nshown but not printed: {missing}\nprinted: {actual}"
        if not any(line.startswith("formreader: error:") for line in shown):
            assert run.returncode == 0, f"{where}: $ {command}: exit {run.returncode}\n{run.stderr[-2000:]}"
