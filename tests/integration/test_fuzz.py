"""Fuzzing: mutated image files and pipeline YAML never give a traceback, only a one-line error.

Fixed seeds, so a failure is reproducible; ``FORMREADER_FUZZ_CASES`` raises the count (the
longer run: ``FORMREADER_FUZZ_CASES=10000 pytest tests/integration/test_fuzz.py``).
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from formreader.api import read_file
from formreader.config import load_pipeline
from formreader.errors import ConfigError
from formreader.results import PageResult, ScanOptions

pytestmark = pytest.mark.slow  # seconds each: `pytest -m "not slow"` skips them while iterating

CASES = int(os.environ.get("FORMREADER_FUZZ_CASES", "2000"))


def _seed_files() -> dict[str, bytes]:
    """Small valid files of every format the reader takes: the starting points to mutate."""
    img = np.full((48, 64), 235, np.uint8)
    cv2.putText(img, "42", (8, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 20, 3)
    out = {ext: cv2.imencode(ext, img)[1].tobytes() for ext in (".png", ".jpg", ".tif", ".bmp")}
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PDF")
    out[".pdf"] = buf.getvalue()
    return out


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0 and len(b) > 1:  # truncated
        return bytes(b[: rng.randrange(1, len(b))])
    if kind == 1:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == 2:  # header bytes overwritten (sizes, chunk lengths, magic)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(min(len(b), 64))
            b[i] = rng.randrange(256)
        return bytes(b)
    if kind == 3:  # random bytes inserted
        i = rng.randrange(len(b) + 1)
        return bytes(b[:i]) + bytes(rng.randrange(256) for _ in range(rng.randint(1, 32))) + bytes(b[i:])
    return bytes(b[: rng.randrange(0, 16)])  # next to nothing


def test_mutated_images_give_results_or_one_line_errors(tmp_path: Path, recognizer) -> None:
    rng = random.Random(20261206)
    seeds = _seed_files()
    exts = sorted(seeds)
    options = ScanOptions()
    first: list[tuple[Path, list[dict]]] = []
    for case in range(CASES):
        ext = exts[case % len(exts)]
        path = tmp_path / f"case{case:05d}{ext}"
        path.write_bytes(_mutate(seeds[ext], rng))
        results = list(read_file(path, recognizer, options))  # must not raise
        assert results and all(isinstance(r, PageResult) for r in results)
        for r in results:
            if r.error is not None:
                assert "\n" not in r.error and str(path) in r.error, r.error
        if case < 100:
            first.append((path, [r.to_dict() for r in results]))
        else:
            path.unlink()
    for path, dicts in first:  # the same bytes give the same results
        assert [r.to_dict() for r in read_file(path, recognizer, options)] == dicts


VALID_YAML = """\
name: fuzz
inputs: ["*.png"]
threshold: 0.8
cleaning: {deskew: true, binarize: auto, dpi: 300}
layout: {mode: boxes}
fields:
  - {name: zip, box: 1, length: [5, 9], checksum: luhn}
  - {name: amount, box: 2, type: amount, decimals: 2}
outputs: {csv: out/r.csv, json: r.json}
"""

ODD = ["2026-01-01", "!!timestamp 2001-12-14", "\x07", "\x00", "~", "null", "[]", "{}", "1e999", "-0",
       "!!binary aGVsbG8=", "&a [*a]", "*nope", "'", '"', "yes", "0x1F", ".inf", "!!python/object:os.system",
       "? complex key", "|", ">", "%TAG", "---", "...", "\ufeff", "\\", "- - -", "::", "é", "\U0001F600"]


def _mutate_yaml(text: str, rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:  # an odd scalar in place of a value
        lines = text.splitlines()
        i = rng.randrange(len(lines))
        head, sep, _ = lines[i].partition(": ")
        lines[i] = f"{head}{sep or ': '}{rng.choice(ODD)}"
        return "\n".join(lines)
    if kind == 1:  # characters deleted
        i = rng.randrange(len(text))
        return text[:i] + text[i + rng.randint(1, 8):]
    if kind == 2:  # odd text inserted anywhere
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(ODD) + text[i:]
    chars = list(text)  # characters swapped
    for _ in range(rng.randint(1, 4)):
        a, b = rng.randrange(len(chars)), rng.randrange(len(chars))
        chars[a], chars[b] = chars[b], chars[a]
    return "".join(chars)


def test_mutated_pipelines_load_or_give_one_line_config_errors(tmp_path: Path) -> None:
    rng = random.Random(612)
    cv2.imwrite(str(tmp_path / "a.png"), np.full((8, 8), 255, np.uint8))
    path = tmp_path / "p.yaml"
    errors = 0
    for _ in range(CASES):
        path.write_bytes(_mutate_yaml(VALID_YAML, rng).encode("utf-8", "surrogatepass"))
        try:
            load_pipeline(path)
        except ConfigError as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith(str(path)), message
            errors += 1
    assert errors > CASES // 4  # the mutations do break most documents
