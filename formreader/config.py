"""Pipeline YAML -> one validated :class:`Pipeline`, or one :class:`ConfigError` line.

Everything a run needs is checked here, before the first page is touched: a typo in the last
field's checksum must not surface after an hour of scanning. The schema lives in pydantic models
(unknown keys rejected, no silent type coercion); rules that span several keys (a field's locator
must suit the layout mode, names must be unique, a regex must compile, inputs must exist) are
checked afterwards with the same ``yaml.path: problem`` message format.

Relative paths in a pipeline (inputs, model, outputs) are resolved against the folder of the YAML
file, so a pipeline means the same thing whatever directory it is run from.

The schema, by example (every key but ``inputs`` is optional)::

    name: cheque
    inputs: ["scans/*.png", extra.pdf]    # files or globs; each must match something
    model: models/digits.keras            # default: $FORMREADER_MODEL, else the shipped model
    threshold: 0.9                        # a digit below this confidence sends its field to review
    cleaning: {deskew: true, binarize: auto, dpi: 300, faint_check: true}   # auto | otsu | sauvola; dpi for PDFs
    layout:
      mode: zones                         # auto | field | page | boxes | free | zones
      registration: lines                 # zones are fractions of: lines | marks | none (the page)
      region: [0, 0.2, 1, 0.6]            # boxes/free: count only fields centred in this area
    fields:                               # none: every number found, named by the scanner
      - name: routing
        zone: [0.0, 0.72, 0.5, 1.0]       # zones mode; boxes mode: box: N or [LINE, N]; auto/free: index: N
        cells: 9                          # zones mode: a comb of 9 cells
        type: digits                      # digits | amount | date
        length: 9                         # or [5, 9], or min_length / max_length
        range: [0, 999999999]
        regex: "[0-3][0-9]{8}"
        checksum: aba                     # luhn | aba | mod11
        optional: false                   # true: an empty field is ok
      - {name: amount, zone: [0.65, 0.22, 1, 0.55], type: amount, decimals: 2, thousands: ",", decimal: "."}
      - {name: date, zone: [0.6, 0, 1, 0.2], type: date, format: MMDDYYYY, years: [2000, 2099]}
    outputs: {csv: out/r.csv, json: out/r.json, overlays: out/overlays, review: out/review.html}
    scheduler: local:4                    # optional: read on a Dask cluster (local:N or tcp://host:8786)
"""

from __future__ import annotations

import difflib
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from formreader.errors import ConfigError
from formreader.io.inputs import recursive_glob
from formreader.io.safe_yaml import MAX_BYTES, parse_yaml
from formreader.results import ScanOptions

DATE_TOKENS = ("YYYY", "YY", "MM", "DD")
# Keys whose --set value is taken verbatim, never parsed as YAML ("[0-9]{5}" is a regex, not a list).
RAW_STRING_KEYS = {"regex", "name", "format", "thousands", "decimal", "model", "csv", "json",
                   "overlays", "review"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Rect = list[float]  # x0, y0, x1, y1, each in 0..1


def _check_rect(value: Rect | None) -> Rect | None:
    if value is None:
        return None
    if len(value) != 4:
        raise ValueError(f"needs 4 numbers [x0, y0, x1, y1], got {len(value)}")
    x0, y0, x1, y1 = value
    if not all(0.0 <= v <= 1.0 for v in value):
        raise ValueError("coordinates are fractions of the page: each must lie in 0..1")
    if not (x0 < x1 and y0 < y1):
        raise ValueError("needs x0 < x1 and y0 < y1")
    return value


class Cleaning(_Strict):
    deskew: bool = True
    binarize: Literal["auto", "otsu", "sauvola"] = "auto"
    dpi: int = Field(300, ge=50, le=1200, description="render resolution for PDF pages")
    # Review a field that shows faint writing nobody read (formreader.imaging.faint); off for forms
    # printed with light drop-out guides in their boxes, which would all be flagged.
    faint_check: bool = True


class Layout(_Strict):
    """How fields are found: by the scanner (boxes / free / auto) or at fixed zones."""

    # field: every image is one cropped number; page: a form (boxes, else free numbers);
    # auto: field or page, per image (formreader.imaging.layout).
    mode: Literal["auto", "page", "field", "boxes", "free", "zones"] = "auto"
    # Zones are relative to the registration frame: the extent of the form's ruled lines, the
    # four corner marks, or the whole page.
    registration: Literal["lines", "marks", "none"] = "lines"
    # Only fields whose centre lies in this area (relative to the frame) count for box/index.
    region: Rect | None = None

    _rect = field_validator("region")(_check_rect)


class FieldSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=64)
    # Exactly one locator, suited to the layout mode.
    # Boxes mode: the n-th box in reading order, or [line, n]: the n-th box of the line-th line
    # (both counted from 1, as a person counts them)
    # of boxes. Lines contain a missing box's damage: the rest of the form keeps its boxes, and
    # a line with fewer boxes than the pipeline names sends its fields to review.
    box: int | list[int] | None = None
    index: int | None = Field(None, ge=0, description="n-th number in reading order (free/auto)")
    zone: Rect | None = None
    # Zones mode: the field is a comb of this many cells (one digit each). Knowing the count from
    # the template lets the comb be found from its top and bottom rulings alone, however many
    # of its dividers the handwriting crosses.
    cells: int | None = Field(None, ge=2, le=40)
    type: Literal["digits", "amount", "date"] = "digits"
    length: int | list[int] | None = None  # exact length, or the allowed lengths
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=0)
    range: list[float] | None = None  # [min, max] of the numeric value
    regex: str | None = None  # must match the whole digit string
    checksum: Literal["luhn", "aba", "mod11"] | None = None
    optional: bool = False  # an empty field is fine (otherwise it goes to review)
    decimals: int | None = Field(None, ge=0, le=4)  # amount: implied decimal places (default 2)
    thousands: str | None = Field(None, max_length=1)  # amount: separator in ``text`` (default ,)
    decimal: str | None = Field(None, max_length=1)  # amount: decimal mark in ``text`` (default .)
    format: str | None = None  # date: e.g. MMDDYYYY, DDMMYY
    years: list[int] | None = None  # date: [first, last] year it may be (a cheque: this century)

    _rect = field_validator("zone")(_check_rect)

    @field_validator("length")
    @classmethod
    def _lengths(cls, value: int | list[int] | None) -> int | list[int] | None:
        values = [value] if isinstance(value, int) else (value or [])
        if any(v < 1 for v in values):
            raise ValueError("lengths must be >= 1")
        if isinstance(value, list) and not value:
            raise ValueError("needs at least one length")
        return value

    @field_validator("box")
    @classmethod
    def _box(cls, value: int | list[int] | None) -> int | list[int] | None:
        if isinstance(value, list) and len(value) != 2:
            raise ValueError("needs a box number, or [line, n]")
        if value is not None and min([value] if isinstance(value, int) else value) < 1:
            raise ValueError("boxes and lines of boxes count from 1 (box: 1 is the first box)")
        return value

    @field_validator("range", "years")
    @classmethod
    def _interval(cls, value: list[float] | None, info: ValidationInfo) -> list[float] | None:
        if value is not None and (len(value) != 2 or value[0] > value[1]):
            lo, hi = ("first", "last") if info.field_name == "years" else ("min", "max")
            raise ValueError(f"needs [{lo}, {hi}] with {lo} <= {hi}")
        return value


class Outputs(_Strict):
    csv: str | None = None
    json_: str | None = Field(None, alias="json")  # ``json`` would shadow BaseModel.json
    overlays: str | None = None  # a folder: one annotated PNG per page
    review: str | None = None  # review.html


def parse_scheduler(scheduler: str) -> tuple[str, int | str]:
    """``local:N`` -> ("local", N); an address (``tcp://host:8786``) -> ("address", it)."""
    kind, _, rest = scheduler.partition(":")
    if kind == "local":
        if not rest.isdigit() or not 1 <= int(rest) <= 256:
            raise ValueError(f"{scheduler!r}: local:N needs a worker count N from 1 to 256")
        return "local", int(rest)
    if rest.startswith("//") and rest[2:]:
        return "address", scheduler
    raise ValueError(f"{scheduler!r}: expected local:N or an address such as tcp://host:8786")


class Pipeline(_Strict):
    name: str | None = None
    inputs: list[str] = Field(min_length=1)
    model: str | None = None
    threshold: float = Field(0.9, ge=0.0, le=1.0)
    cleaning: Cleaning = Cleaning()
    layout: Layout = Layout()
    fields: list[FieldSpec] = []
    outputs: Outputs = Outputs()
    scheduler: str | None = None  # read on a Dask cluster (docs/cluster.md); --scheduler overrides

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, value: str | None) -> str | None:
        return value if value is None or parse_scheduler(value) else value

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("cleaning", "layout", "outputs", "fields", mode="before")
    @classmethod
    def _empty_section(cls, value: Any, info: Any) -> Any:
        # "outputs:" with nothing under it (or --set outputs=) means the defaults, not an error.
        if value is None:
            return [] if info.field_name == "fields" else {}
        return value

    def scan_options(self) -> ScanOptions:
        """The scanner's knobs; zones mode scans each zone as free text."""
        mode = {"zones": "free"}.get(self.layout.mode, self.layout.mode)
        return ScanOptions(threshold=self.threshold, field_mode=mode,  # type: ignore[arg-type]
                           deskew=self.cleaning.deskew, binarize=self.cleaning.binarize,
                           dpi=self.cleaning.dpi, faint_check=self.cleaning.faint_check)


@dataclass(frozen=True)
class LoadedPipeline:
    """A validated pipeline with its paths resolved against the YAML file's folder."""

    spec: Pipeline
    source: Path
    files: list[Path]  # the input files, globs expanded, sorted, duplicates removed
    model: Path | None
    csv: Path | None
    json: Path | None
    overlays: Path | None
    review: Path | None


# ---------------------------------------------------------------------------------- messages


def yaml_path(loc: Sequence[str | int]) -> str:
    """('fields', 2, 'checksum') -> 'fields[2].checksum', the way the user sees the YAML."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _all_keys() -> set[str]:
    keys: set[str] = set()
    for model in (Pipeline, Cleaning, Layout, FieldSpec, Outputs):
        keys.update(f.alias or name for name, f in model.model_fields.items())
    return keys


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _message(err: dict[str, Any]) -> str:
    kind, loc = err["type"], tuple(p for p in err["loc"] if not str(p).startswith("function-"))
    # Drop pydantic's union branch names (e.g. 'int', 'list[int]') from the location.
    loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in {"int", "float", "str", "bool"})))
    where = yaml_path(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        close = difflib.get_close_matches(key, sorted(_all_keys()), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"{where}: unknown key{hint}"
    if kind == "literal_error":
        return f"{where}: unknown {_short(err['input'])} (expected {err['ctx']['expected']})"
    if kind == "missing":
        return f"{where}: required key missing"
    msg = str(err["msg"]).removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        msg += f", got {_short(err['input'])}"
    return f"{where}: {msg}"


def _raise(source: str, problems: list[str]) -> None:
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {problems[0]}{more}")


# ---------------------------------------------------------------------------------- --set


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``--set a.b.0.c=value`` to the raw document (before validation).

    The value is parsed as a YAML scalar/flow value (``0.8`` is a number, ``true`` a bool),
    except for keys that are always strings (regex, paths), which are taken verbatim.
    """
    key, sep, raw = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. threshold=0.8")
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in key.split(".")]
    if any(p == "" for p in parts):
        raise ConfigError(f"--set {key}: empty key segment")
    last = parts[-1]
    if not raw.strip():
        value: Any = None  # KEY= clears a key (e.g. outputs.csv= for no CSV)
    elif isinstance(last, str) and last in RAW_STRING_KEYS:
        value = raw
    else:
        try:
            value = parse_yaml(raw, f"--set {key}")
        except ConfigError:
            value = raw
    node: Any = data
    for i, part in enumerate(parts):
        here = yaml_path(parts[: i + 1])
        final = i == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError(f"--set {key}: {yaml_path(parts[:i]) } is not a list")
            if part >= len(node):
                raise ConfigError(f"--set {key}: {here} does not exist ({len(node)} items)")
            if final:
                node[part] = value
            else:
                node = node[part]
        else:
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {yaml_path(parts[:i])} is not a mapping")
            if final:
                node[part] = value
            else:
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]


# ---------------------------------------------------------------------------------- rules


def _field_image_problems(spec: Pipeline) -> list[str]:
    """Field mode: each image is the one field, so at most one field, and no locator."""
    problems = [f"fields[{i}]: layout.mode 'field' reads one field per image; name at most one"
                for i in range(1, len(spec.fields))]
    for i, f in enumerate(spec.fields[:1]):
        problems += [f"fields[{i}].{k}: not used in layout.mode 'field' (the whole image is the field)"
                     for k in ("box", "index", "zone", "cells") if getattr(f, k) is not None]
    return problems


def _field_problems(spec: Pipeline) -> list[str]:
    problems: list[str] = []
    mode = spec.layout.mode
    if mode == "field":
        return _field_image_problems(spec)
    wanted = {"zones": "zone", "boxes": "box"}.get(mode, "index")
    seen: dict[str, int] = {}
    for i, f in enumerate(spec.fields):
        at = f"fields[{i}]"
        if f.name in seen:
            problems.append(f"{at}.name: duplicate '{f.name}' (also fields[{seen[f.name]}])")
        seen.setdefault(f.name, i)
        given = [k for k in ("box", "index", "zone") if getattr(f, k) is not None]
        for k in given:
            if k != wanted:
                problems.append(f"{at}.{k}: not used in layout.mode '{mode}'; locate fields with '{wanted}'")
        if not given:
            problems.append(f"{at}: needs '{wanted}' to say where the field is (layout.mode '{mode}')")
        if f.cells is not None and mode != "zones":
            problems.append(f"{at}.cells: only in layout.mode 'zones'")
        if f.regex is not None:
            try:
                re.compile(f.regex)
            except re.error as exc:
                problems.append(f"{at}.regex: invalid regular expression ({exc})")
        if f.length is not None and (f.min_length is not None or f.max_length is not None):
            problems.append(f"{at}.length: give either length or min_length/max_length, not both")
        if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
            problems.append(f"{at}.min_length: greater than max_length")
        for key in ("decimals", "thousands", "decimal"):
            if getattr(f, key) is not None and f.type != "amount":
                problems.append(f"{at}.{key}: only for type 'amount'")
        for key in ("format", "years"):
            if getattr(f, key) is not None and f.type != "date":
                problems.append(f"{at}.{key}: only for type 'date'")
        if f.type == "date":
            if f.format is None:
                problems.append(f"{at}.format: required for type 'date' (e.g. MMDDYYYY)")
            elif date_tokens(f.format) is None:
                problems.append(f"{at}.format: unknown date format {f.format!r} "
                                "(use DD, MM and YY or YYYY once each, e.g. MMDDYYYY)")
        if f.checksum is not None and f.type != "digits":
            problems.append(f"{at}.checksum: only for type 'digits'")
        if f.type == "amount" and f.thousands is not None and f.thousands == (f.decimal or "."):
            problems.append(f"{at}.thousands: same as the decimal mark")
    return problems


def date_tokens(fmt: str) -> list[str] | None:
    """'MMDDYYYY' -> ['MM', 'DD', 'YYYY']; None unless day, month and year appear once each."""
    tokens: list[str] = []
    rest = fmt.upper()
    while rest:
        for tok in DATE_TOKENS:
            if rest.startswith(tok):
                tokens.append(tok)
                rest = rest[len(tok):]
                break
        else:
            return None
    years = [t for t in tokens if t in ("YY", "YYYY")]
    if len(years) != 1 or tokens.count("MM") != 1 or tokens.count("DD") != 1:
        return None
    return tokens


def _resolve(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    try:
        path = path.expanduser()
    except RuntimeError:  # "~nobody/...": no such user; taken as written
        pass
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _input_files(spec: Pipeline, base: Path) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    problems: list[str] = []
    for i, pattern in enumerate(spec.inputs):
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


def validate(data: Any, source: str = "<pipeline>", base: Path | None = None,
             check_files: bool = True) -> LoadedPipeline:
    """Validate a parsed document; every problem becomes one ConfigError line naming the key."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{source}: a pipeline must be a mapping of keys (this document is {kind})")
    try:
        spec = Pipeline.model_validate(data)
    except ValidationError as exc:
        _raise(source, [_message(e) for e in exc.errors()])  # type: ignore[arg-type]
        raise  # unreachable: _raise always raises for a non-empty list
    problems = _field_problems(spec)
    base = base or Path.cwd()
    files: list[Path] = []
    model = _resolve(base, spec.model)
    if check_files:
        files, missing = _input_files(spec, base)
        problems += missing
        if model is not None and not model.is_file():
            problems.append(f"model: {model}: file not found")
        for key in ("csv", "json", "review"):
            out = _resolve(base, getattr(spec.outputs, key + "_" if key == "json" else key))
            if out is not None and out.is_dir():
                problems.append(f"outputs.{key}: {out} is a folder; give a file name")
        overlays = _resolve(base, spec.outputs.overlays)
        if overlays is not None and overlays.exists() and not overlays.is_dir():
            problems.append(f"outputs.overlays: {overlays} is a file; give a folder")
    _raise(source, problems)
    o = spec.outputs
    return LoadedPipeline(spec, Path(source), files, model, _resolve(base, o.csv), _resolve(base, o.json_),
                          _resolve(base, o.overlays), _resolve(base, o.review))


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
