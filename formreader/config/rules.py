"""Rules that span several keys: a field's locator must suit the layout mode, names are unique,
a regex compiles, keys of one field type are not given to another.

Each problem is one ``yaml.path: problem`` line, like the schema's own errors.
"""

from __future__ import annotations

import re

from formreader.config.schema import Pipeline, date_tokens


def _field_image_problems(spec: Pipeline) -> list[str]:
    """Field mode: each image is the one field, so at most one field, and no locator."""
    problems = [f"fields[{i}]: layout.mode 'field' reads one field per image; name at most one"
                for i in range(1, len(spec.fields))]
    for i, f in enumerate(spec.fields[:1]):
        problems += [f"fields[{i}].{k}: not used in layout.mode 'field' (the whole image is the field)"
                     for k in ("box", "index", "zone", "cells") if getattr(f, k) is not None]
    return problems


def field_problems(spec: Pipeline) -> list[str]:
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
