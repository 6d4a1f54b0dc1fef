"""Pipeline YAML validation: each malformed file gives one line naming its key, nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from formreader.config import apply_override, load_pipeline, validate
from formreader.errors import ConfigError, ExitCode
from formreader.io.safe_yaml import MAX_NODES, parse_yaml

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    (tmp_path / "a.png").write_bytes(b"not read during validation")
    path = tmp_path / name
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_pipeline(path, overrides)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path)) or message.startswith("--set")
    return message


def test_valid_pipeline_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "inputs: ['*.png']\nthreshold: 0.8\noutputs: {csv: out/r.csv, json: r.json}\n"
                           "layout: {mode: boxes}\nfields: [{name: zip, box: 1, length: [5, 9]}]\n")
    p = load_pipeline(path)
    assert p.files == [tmp_path / "a.png"]
    assert p.csv == tmp_path / "out" / "r.csv" and p.json == tmp_path / "r.json"
    assert p.spec.threshold == 0.8 and p.spec.scan_options().threshold == 0.8
    assert p.spec.fields[0].length == [5, 9]


@pytest.mark.parametrize("text, expected", [
    ("inputs: [a.png]\nlayout: {mode: boxes}\nfields:\n - {name: a, box: 1}\n - {name: b, box: 2}\n"
     " - {name: c, box: 3, checksum: luhnn}\n", "fields[2].checksum: unknown 'luhnn'"),
    ("inputs: [a.png]\ntreshold: 0.5\n", "treshold: unknown key (did you mean 'threshold'?)"),
    ("inputs: [a.png]\nthreshold: high\n", "threshold: input should be a valid number, got 'high'"),
    ("inputs: [a.png]\nthreshold: 1.5\n", "threshold: input should be less than or equal to 1"),
    ("inputs: [a.png]\ncleaning: {binarize: niblack}\n", "cleaning.binarize: unknown 'niblack'"),
    ("inputs: [a.png]\ncleaning: {deskew: 'maybe'}\n", "cleaning.deskew: input should be a valid boolean"),
    ("inputs: [a.png]\noutputs: {jsn: r.json}\n", "outputs.jsn: unknown key (did you mean 'json'?)"),
    ("threshold: 0.5\n", "inputs: required key missing"),
    ("inputs: [a.png]\nfields: [{name: a, index: '3'}]\n", "fields[0].index: input should be a valid integer"),
    ("inputs: [a.png]\nlayout: {mode: zones}\nfields: [{name: a, zone: [0, 0, 1.2, 1]}]\n",
     "fields[0].zone: coordinates are fractions of the page"),
    ("inputs: [a.png]\nlayout: {mode: zones}\nfields: [{name: a, box: 1}]\n",
     "fields[0].box: not used in layout.mode 'zones'"),
    ("inputs: [a.png]\nfields: [{name: a, index: 0}, {name: a, index: 1}]\n",
     "fields[1].name: duplicate 'a'"),
    ("inputs: [a.png]\nfields: [{name: a, index: 0, regex: '[0-9'}]\n", "fields[0].regex: invalid regular expression"),
    ("inputs: [a.png]\nfields: [{name: d, index: 0, type: date, format: MMDDQQ}]\n",
     "fields[0].format: unknown date format 'MMDDQQ'"),
    ("inputs: [a.png]\nfields: [{name: d, index: 0, decimals: 2}]\n", "fields[0].decimals: only for type 'amount'"),
    ("inputs: [a.png]\nfields: [{name: d, index: 0, range: [9, 1]}]\n", "fields[0].range: needs [min, max]"),
    ("inputs: [a.png]\nfields: [{name: d, index: 0, years: [2000, 2099]}]\n", "fields[0].years: only for type 'date'"),
    ("inputs: [a.png]\nlayout: {mode: boxes}\nfields: [{name: d, box: [1, 2, 3]}]\n",
     "fields[0].box: needs a box number, or [line, n]"),
    ("inputs: [a.png]\nlayout: {mode: boxes}\nfields: [{name: d, box: [1, -1]}]\n", "fields[0].box: boxes and lines of boxes count from 1"),
    ("inputs: [a.png]\nlayout: {mode: boxes}\nfields: [{name: d, box: 0}]\n", "fields[0].box: boxes and lines of boxes count from 1 (box: 1 is the first box)"),
    ("inputs: [a.png]\nfields: [{name: d, index: 0, type: date, format: DDMMYY, years: [2099, 2000]}]\n",
     "fields[0].years: needs [first, last]"),
    ("inputs: [missing.png]\n", "inputs[0]: "),
    ("inputs: [a.png, 'scans/*.tif']\n", "inputs[1]: 'scans/*.tif' matches no file"),
    ("inputs: [a.png]\nmodel: nowhere.keras\n", "model: "),
    ("inputs: [a.png]\ninputs: [b.png]\n", "line 2: duplicate key 'inputs'"),
    ("inputs: [a.png\n", "invalid YAML"),
    ("- a.png\n", "a pipeline must be a mapping"),
    ("", "this document is empty"),
])
def test_malformed_pipeline_gives_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error(tmp_path, text)


def test_missing_input_names_the_file(tmp_path: Path) -> None:
    assert error(tmp_path, "inputs: [missing.png]\n").endswith(f"{tmp_path / 'missing.png'}: file not found")


def test_model_may_be_a_bundle_folder_but_not_any_folder(tmp_path: Path) -> None:
    (tmp_path / "tuned").mkdir()
    assert error(tmp_path, "inputs: [a.png]\nmodel: tuned\n").endswith(
        f"model: {tmp_path / 'tuned'}: a folder, but not a model bundle (it has no manifest.json)")
    (tmp_path / "tuned" / "manifest.json").write_text("{}")
    assert load_pipeline(write(tmp_path, "inputs: [a.png]\nmodel: tuned\n")).model == tmp_path / "tuned"


def test_several_problems_are_counted(tmp_path: Path) -> None:
    message = error(tmp_path, "inputs: [a.png]\nthreshold: x\ncleaning: {dpi: 5}\n")
    assert "(and 1 more problem)" in message


def test_yaml_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):  # 10**9 nodes once expanded
        prev = chr(ord("a") + i - 1)
        levels.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + prev] * 10)}]")
    message = error(tmp_path, "\n".join(levels) + "\n")
    assert f"more than {MAX_NODES} nodes" in message


def test_deep_nesting_and_huge_files_are_refused(tmp_path: Path) -> None:
    assert "refused" in error(tmp_path, "inputs: " + "[" * 2000 + "]" * 2000 + "\n")
    assert "refused" in error(tmp_path, "inputs: [a.png]\n#" + "x" * (1 << 20) + "\n")


def test_overrides_use_dotted_paths_and_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "inputs: [a.png]\nfields: [{name: zip, index: 0}]\n")
    p = load_pipeline(path, ["threshold=0.75", "fields.0.regex=[0-9]{5}", "cleaning.deskew=false"])
    assert p.spec.threshold == 0.75
    assert p.spec.fields[0].regex == "[0-9]{5}"
    assert p.spec.cleaning.deskew is False
    assert "threshold: input should be less than or equal to 1" in error(tmp_path, path.read_text(), ("threshold=2",))
    assert "fields[0].checksum: unknown 'luhnn'" in error(tmp_path, path.read_text(), ("fields.0.checksum=luhnn",))
    with pytest.raises(ConfigError, match=r"--set fields.3.regex: fields\[3\] does not exist"):
        apply_override(parse_yaml(path.read_text()), "fields.3.regex=x")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_override({}, "threshold")


def test_scan_options_follow_the_pipeline() -> None:
    p = validate({"inputs": ["x"], "threshold": 0.7, "cleaning": {"deskew": False, "binarize": "otsu"},
                  "layout": {"mode": "boxes"}}, check_files=False)
    opts = p.spec.scan_options()
    assert (opts.threshold, opts.deskew, opts.binarize, opts.field_mode) == (0.7, False, "otsu", "boxes")


@pytest.mark.parametrize("path", sorted((ROOT / "pipelines").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_pipelines_validate(path: Path) -> None:
    p = load_pipeline(path)
    assert p.files, "a shipped pipeline points at committed samples"


def test_run_command_reports_config_error_in_one_line(tmp_path: Path) -> None:
    from formreader.cli import app

    path = write(tmp_path, "inputs: [a.png]\nfields: [{name: a, index: 0, checksum: luhnn}]\n")
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == ExitCode.USAGE
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "fields[0].checksum: unknown 'luhnn'" in lines[0]


def test_documented_example_validates() -> None:
    import textwrap

    import formreader.config as config

    example = textwrap.dedent(config.__doc__.split("is optional)::")[1])
    p = validate(parse_yaml(example), check_files=False)
    assert [f.name for f in p.spec.fields] == ["routing", "amount", "date"]


def test_pipeline_globs_end_at_symlink_cycles(tmp_path: Path) -> None:
    (tmp_path / "scans" / "sub").mkdir(parents=True)
    (tmp_path / "scans" / "sub" / "a.png").write_bytes(b"x")
    (tmp_path / "scans" / "sub" / "loop").symlink_to("..")
    path = tmp_path / "p.yaml"
    path.write_text('inputs: ["scans/**/*.png", "~nobody-here/x.png"]\n')
    with pytest.raises(ConfigError, match="inputs\\[1\\]"):  # the odd home is an input not found
        load_pipeline(path)
    path.write_text('inputs: ["scans/**/*.png"]\n')
    assert load_pipeline(path).files == [tmp_path / "scans" / "sub" / "a.png"]


def test_docs_key_reference_matches_the_schema() -> None:
    """Every key, type, default and description in docs/pipelines.md is the schema's own."""
    from formreader.config.reference import table

    doc = (ROOT / "docs" / "pipelines.md").read_text(encoding="utf-8")
    assert table() in doc, "docs/pipelines.md is out of date: python -m formreader.config.reference docs/pipelines.md"


def test_every_schema_key_has_a_description() -> None:
    from formreader.config.reference import rows

    keys = [r[0] for r in rows()]
    assert {"inputs", "layout.mode", "fields[].checksum", "outputs.json", "scheduler"} <= set(keys)
    assert all(r[3] for r in rows()), [r[0] for r in rows() if not r[3]]
