"""Model bundles: the models fine-tuned on a user's own fields, in one folder.

``formreader train --fields`` writes one; ``--model BUNDLE`` and a pipeline's ``model:`` read
with it. A bundle holds the digit networks (``digits.keras`` and, beside it as for the shipped
model, its screen and second network), the string reader (``strings.onnx``) and
``manifest.json``: what it was made from (base models, a hash of the labelled data, how many
fields), its accuracy before and after on the fields held out from the fine-tuning, and the
bundle format. A formreader that does not know the bundle's format refuses it, saying so,
rather than read with models it may misunderstand.
"""

from __future__ import annotations

import json
from pathlib import Path

from formreader.errors import ModelError
from formreader.recognizer.strings import PICK_MARGIN

MANIFEST = "manifest.json"
BUNDLE_FORMAT = 1  # bumped when the files a bundle holds, or their meaning, change
DIGITS = "digits.keras"
STRINGS = "strings.onnx"


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a bundle folder (it has a manifest)."""
    return (Path(path) / MANIFEST).is_file()


def read_manifest(folder: str | Path) -> dict:
    """The bundle's manifest, checked: readable, of a format this formreader reads, complete."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: not a readable model bundle ({MANIFEST}: {exc})") from None
    if not isinstance(manifest, dict):
        raise ModelError(f"{folder}: not a readable model bundle ({MANIFEST} is not an object)")
    fmt = manifest.get("bundle_format")
    if fmt != BUNDLE_FORMAT:
        made_by = manifest.get("formreader_version", "an unknown version")
        raise ModelError(f"{folder}: bundle format {fmt!r} (made by formreader {made_by}); this formreader "
                         f"reads format {BUNDLE_FORMAT}: fine-tune again with `formreader train --fields`")
    for name in (DIGITS, STRINGS):
        if not (folder / name).is_file():
            raise ModelError(f"{folder}: model bundle without {name}")
    return manifest


def bundle_models(folder: str | Path) -> tuple[Path, Path, float | None]:
    """The digit model and the string reader of a bundle (its manifest checked first), and the
    pick margin chosen for them on the bundle's held-out fields (``string_pick_margin``; null:
    the string reader never changes a value; absent: the shipped margin)."""
    manifest = read_manifest(folder)
    margin = manifest.get("string_pick_margin", PICK_MARGIN)
    if margin is not None and not isinstance(margin, (int, float)):
        raise ModelError(f"{folder}: {MANIFEST}: string_pick_margin {margin!r} is not a number")
    return Path(folder) / DIGITS, Path(folder) / STRINGS, None if margin is None else float(margin)
