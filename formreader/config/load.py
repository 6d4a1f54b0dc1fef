"""Read a pipeline file, apply ``--set`` overrides, validate it and resolve its paths.

Everything a run needs is checked here, before the first page is touched: a typo in the last
field's checksum must not surface after an hour of scanning. Relative paths in a pipeline
(inputs, model, outputs) are resolved against the folder of the YAML file, so a pipeline means
the same thing whatever directory it is run from. Inputs and the csv, json and review outputs
may be URLs (``s3://bucket/scans/*.png``), listed and written through fsspec like ``scan``'s.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

from pydantic import ValidationError

from formreader.config.messages import message, raise_problems
from formreader.config.overrides import apply_override
from formreader.config.rules import field_problems
from formreader.config.schema import Pipeline
from formreader.errors import ConfigError, InputError
from formreader.io.inputs import recursive_glob
from formreader.io.remote import expand_url, is_url
from formreader.io.safe_yaml import MAX_BYTES, parse_yaml

Target = Union[Path, str]  # a local path, or a URL kept as written


@dataclass(frozen=True)
class LoadedPipeline:
    """A validated pipeline with its paths resolved against the YAML file's folder."""

    spec: Pipeline
    source: Path
    files: list[Target]  # the input files (URLs as strings), globs expanded, sorted, duplicates removed
    model: Path | None
    csv: Target | None
    json: Target | None
    overlays: Path | None
    review: Target | None


def _resolve(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    try:
        path = path.expanduser()
    except RuntimeError:  # "~nobody/...": no such user; taken as written
        pass
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _target(base: Path, value: str | None) -> Target | None:
    """An output: a URL as written, else a path resolved against the pipeline's folder."""
    return value if value is not None and is_url(value) else _resolve(base, value)


def _input_files(spec: Pipeline, base: Path) -> tuple[list[Target], list[str]]:
    files: list[Target] = []
    problems: list[str] = []
    for i, pattern in enumerate(spec.inputs):
        if is_url(pattern):
            try:
                urls = expand_url(pattern)
            except InputError as exc:
                problems.append(f"inputs[{i}]: {exc}")
                continue
            if not urls:
                problems.append(f"inputs[{i}]: {pattern!r} matches no file")
            files.extend(urls)
            continue
        full = _resolve(base, pattern)
        assert full is not None
        if glob.has_magic(pattern):
            found = recursive_glob(str(full)) if "**" in pattern else glob.glob(str(full))
            matches = sorted(Path(p) for p in found if Path(p).is_file())
            if not matches:
                problems.append(f"inputs[{i}]: {pattern!r} matches no file (looked in {full.parent})")
            files.extend(matches)
        elif full.is_file():
            files.append(full)
        elif full.is_dir():
            problems.append(f"inputs[{i}]: {full} is a folder; use a glob such as '{pattern.rstrip('/')}/*.png'")
        else:
            problems.append(f"inputs[{i}]: {full}: file not found")
    unique = list(dict.fromkeys(files))
    return unique, problems


def _output_problems(spec: Pipeline, base: Path) -> list[str]:
    problems = []
    for key in ("csv", "json", "review"):
        out = _target(base, getattr(spec.outputs, key + "_" if key == "json" else key))
        if isinstance(out, Path) and out.is_dir():
            problems.append(f"outputs.{key}: {out} is a folder; give a file name")
    if spec.outputs.overlays is not None and is_url(spec.outputs.overlays):
        problems.append("outputs.overlays: overlays are written to a folder, not a URL (on a cluster, "
                        "a folder every worker can reach)")
    else:
        overlays = _resolve(base, spec.outputs.overlays)
        if overlays is not None and overlays.exists() and not overlays.is_dir():
            problems.append(f"outputs.overlays: {overlays} is a file; give a folder")
    return problems


def validate(data: Any, source: str = "<pipeline>", base: Path | None = None,
             check_files: bool = True) -> LoadedPipeline:
    """Validate a parsed document; every problem becomes one ConfigError line naming the key."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{source}: a pipeline must be a mapping of keys (this document is {kind})")
    try:
        spec = Pipeline.model_validate(data)
    except ValidationError as exc:
        raise_problems(source, [message(e) for e in exc.errors()])  # type: ignore[arg-type]
        raise  # unreachable: raise_problems always raises for a non-empty list
    problems = field_problems(spec)
    base = base or Path.cwd()
    files: list[Target] = []
    model = _resolve(base, spec.model)
    if check_files:
        files, missing = _input_files(spec, base)
        problems += missing
        if model is not None and model.is_dir():  # a bundle (formreader.recognizer.bundle) has a manifest
            if not (model / "manifest.json").is_file():
                problems.append(f"model: {model}: a folder, but not a model bundle (it has no manifest.json)")
        elif model is not None and not model.is_file():
            problems.append(f"model: {model}: file not found")
        problems += _output_problems(spec, base)
    raise_problems(source, problems)
    o = spec.outputs
    return LoadedPipeline(spec, Path(source), files, model, _target(base, o.csv), _target(base, o.json_),
                          _resolve(base, o.overlays), _target(base, o.review))


def load_pipeline(path: str | Path, overrides: Sequence[str] = (), check_files: bool = True) -> LoadedPipeline:
    """Read, override and validate a pipeline file: the only entry point the CLI needs."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: pipeline file not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // 1024} KiB; refused")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    data = parse_yaml(text, str(path))
    if overrides and not isinstance(data, dict):
        data = {} if data is None else data
    for assignment in overrides:
        if isinstance(data, dict):
            apply_override(data, assignment)
    return validate(data, str(path), base=path.resolve().parent, check_files=check_files)
