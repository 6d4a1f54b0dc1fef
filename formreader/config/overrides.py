"""``--set a.b.0.c=value``: change one key of the raw document for one run, before validation."""

from __future__ import annotations

from typing import Any

from formreader.config.messages import yaml_path
from formreader.errors import ConfigError
from formreader.io.safe_yaml import parse_yaml

# Keys whose --set value is taken verbatim, never parsed as YAML ("[0-9]{5}" is a regex, not a list).
RAW_STRING_KEYS = {"regex", "name", "format", "thousands", "decimal", "model", "csv", "json",
                   "overlays", "review"}


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
