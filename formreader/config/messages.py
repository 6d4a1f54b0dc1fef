"""Pydantic's validation errors -> one line per problem, named by its YAML path.

A user sees ``fields[2].checksum: unknown 'luhnn' (expected 'luhn', 'aba' or 'mod11')``, never a
pydantic dump; an unknown key suggests the closest known one.
"""

from __future__ import annotations

import difflib
from typing import Any, Sequence

from formreader.config.schema import SECTIONS
from formreader.errors import ConfigError


def yaml_path(loc: Sequence[str | int]) -> str:
    """('fields', 2, 'checksum') -> 'fields[2].checksum', the way the user sees the YAML."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _all_keys() -> set[str]:
    keys: set[str] = set()
    for model in SECTIONS.values():
        keys.update(f.alias or name for name, f in model.model_fields.items())
    return keys


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def message(err: dict[str, Any]) -> str:
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


def raise_problems(source: str, problems: list[str]) -> None:
    if problems:
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {problems[0]}{more}")
