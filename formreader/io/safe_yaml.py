"""YAML from untrusted text, parsed within limits: size, nesting, the nodes that aliases expand
to and duplicate keys are checked before anything is built, so an alias bomb costs microseconds
to refuse, and every failure is one :class:`~formreader.errors.ConfigError` line with where it
happened.
"""

from __future__ import annotations

from typing import Any

import yaml

from formreader.errors import ConfigError

MAX_BYTES = 1 << 20  # a pipeline is a page of YAML; anything bigger is a mistake or an attack
MAX_NODES = 20_000  # nodes after expanding aliases: stops "billion laughs" documents
MAX_DEPTH = 32


def _check_nodes(root: yaml.Node) -> None:
    """Refuse alias bombs, absurd nesting and duplicate keys, walking the node graph once.

    Aliases are followed (that is what makes a bomb expensive), but the walk stops at
    MAX_NODES, so a billion-laughs document costs microseconds to refuse.
    """
    count = 0
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ValueError(f"document expands to more than {MAX_NODES} nodes (aliases?); refused")
        if depth > MAX_DEPTH:
            raise ValueError(f"nesting deeper than {MAX_DEPTH} levels; refused")
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        line = key.start_mark.line + 1
                        raise ValueError(f"line {line}: duplicate key '{key.value}'")
                    seen.add(key.value)
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)


def parse_yaml(text: str, source: str = "<string>") -> Any:
    """Safe-load one YAML document with size, alias and depth limits; ConfigError on failure."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_BYTES // 1024} KiB; refused")
    try:
        loader = yaml.SafeLoader(text)  # refuses control characters here, before any parsing
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{source}:{line}: invalid YAML: character {exc.character!r} is not allowed "
                          f"({exc.reason})") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(f"{source}{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {' '.join(str(exc).split())}") from None
    except (ValueError, RecursionError) as exc:
        problem = str(exc) if isinstance(exc, ValueError) else "nesting too deep; refused"
        raise ConfigError(f"{source}: {' '.join(problem.split())}") from None
    except (AttributeError, TypeError, OverflowError, IndexError, KeyError) as exc:
        # PyYAML's own constructors fail this way on a malformed tagged value (!!timestamp x).
        raise ConfigError(f"{source}: invalid YAML value ({type(exc).__name__}: {' '.join(str(exc).split())})") from None
    finally:
        loader.dispose()
