"""Fine-tune the readers on a user's own labelled fields: ``formreader train --fields``.

Every collection has its own pens, paper and habits; a few hundred fields a person has checked
teach the readers more about them than any amount of MNIST. From LABELS.csv (``image,value``,
one field image per row, as review.html exports them):

1. a seeded share of the fields is held out to judge the result, never trained on;
2. the digit CNN is fine-tuned on the digit crops the segmenter cuts from the other fields,
   read with the label's length so the cuts agree with the label (fields it cannot cut that
   way are left out), mixed one to one with MNIST training digits so it does not forget
   digits the user's fields lack;
3. the string reader is fine-tuned on the same fields' number strips with their labels,
   mixed one to one with synthetic strings, for the same reason;
   each reader trains for a few passes and at least ``min_steps`` steps, the user's samples
   redrawn at every step (:func:`formreader.training.augment.mild`, :func:`~formreader.training.augment.jitter_strip`);
4. the held-out fields choose the margin by which the string reader must be surer for its
   digits to be a disagreeing field's value (:func:`formreader.reading.judge.choose_pick_margin`);
5. both are read on the held-out fields before and after; a bundle that reads them worse than
   the models it started from is not written unless asked (``force``).

Deterministic for a seed and the same data. Needs TensorFlow (training); the bundle is read
with ONNX Runtime like the shipped models.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from formreader.errors import DataError, OutputError

Log = Callable[[str], None]


@dataclass(frozen=True)
class LabelledField:
    line: int  # in LABELS.csv, for messages
    image: Path
    value: str  # the digits as written


@dataclass
class FineTuneConfig:
    epochs: int = 3  # passes over the user's fields (each step half theirs, half MNIST/synthetic)
    min_steps: int = 600  # steps of each reader, however few the fields
    seed: int = 1
    validation: float = 0.1  # share of the fields held out to judge the bundle
    digit_lr: float = 1e-4
    string_lr: float = 3e-4
    batch: int = 32  # user samples per step (as many general ones beside them)


def read_labels(path: Path) -> tuple[list[LabelledField], list[str]]:
    """The usable rows of LABELS.csv, and one problem line per row that is not (by line number).

    Columns ``image`` (relative to the CSV's folder, or absolute) and ``value`` (digits);
    other columns (``text``) are ignored. A missing file, an unreadable image or a value that
    is not digits skips its row; only a CSV without a usable row is an error."""
    from formreader.io.pages import load_gray

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the labels ({exc})") from None
    reader = csv.DictReader(text.splitlines())
    missing = {"image", "value"} - set(reader.fieldnames or [])
    if missing:
        raise DataError(f"{path}: needs the columns image,value (missing {', '.join(sorted(missing))})")
    rows: list[LabelledField] = []
    problems: list[str] = []
    for line, row in enumerate(reader, start=2):
        image, value = (row.get("image") or "").strip(), (row.get("value") or "").strip()
        where = f"{path}:{line}"
        if not value.isdigit() or not value.isascii():
            problems.append(f"{where}: value {value!r} is not digits; row skipped")
            continue
        target = Path(image) if os.path.isabs(image) else path.parent / image
        if not image or not target.is_file():
            problems.append(f"{where}: image {image!r} not found; row skipped")
            continue
        try:
            load_gray(target)
        except Exception as exc:  # any decoder failure: the row is unusable, the rest are not
            problems.append(f"{where}: {target.name}: cannot read the image ({type(exc).__name__}); row skipped")
            continue
        rows.append(LabelledField(line, target, value))
    if not rows:
        raise DataError(f"{path}: no usable row ({len(problems)} skipped)")
    return rows, problems


def split(rows: list[LabelledField], share: float, seed: int) -> tuple[list[LabelledField], list[LabelledField]]:
    """(train, held out): a seeded ``share`` of the fields, at least one, held out."""
    order = np.random.default_rng(seed).permutation(len(rows))
    n_val = min(len(rows) - 1, max(1, int(round(share * len(rows))))) if len(rows) > 1 else 0
    held = sorted(order[:n_val].tolist())
    keep = sorted(order[n_val:].tolist())
    return [rows[i] for i in keep], [rows[i] for i in held]


@dataclass
class Samples:
    """What the user's fields teach: digit crops (the segmenter's cuts) and number strips."""

    crops: np.ndarray  # (n, 28, 28) float32
    digits: np.ndarray  # (n,) int64
    strips: list[tuple[np.ndarray, str]] = field(default_factory=list)
    uncut: int = 0  # fields the segmenter could not cut into as many digits as the label has


def cut_samples(rows: list[LabelledField], recognizer: Any) -> Samples:
    """Digit crops and strips of ``rows``, cut the way fields are read."""
    from formreader.io.pages import load_gray
    from formreader.reading.field_read import _cleaned, field_lattice
    from formreader.reading.schedule import read_lattices
    from formreader.recognizer.strings import strip_of

    crops: list[np.ndarray] = []
    digits: list[int] = []
    out = Samples(np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64))
    for row in rows:
        cleaned, number = _cleaned(load_gray(row.image))
        strip = strip_of(number.mask, number.digit_height)
        if strip is not None:
            out.strips.append((strip.image, row.value))
        lattice = field_lattice(cleaned, number)
        n = len(row.value)
        reading = read_lattices([lattice], recognizer, lengths=[lambda k, n=n: k == n])[0] if lattice else None
        if reading is None or len(reading.digits) != n or any(d.crop is None for d in reading.digits):
            out.uncut += 1
            continue
        for d, ch in zip(reading.digits, row.value):
            crops.append(d.crop)  # type: ignore[arg-type]
            digits.append(int(ch))
    if crops:
        out.crops, out.digits = np.stack(crops).astype(np.float32), np.array(digits, np.int64)
    return out


def read_held(rows: list[LabelledField], recognizer: Any) -> list[Any]:
    """The fields of ``rows`` as ``recognizer`` reads them (field mode, no rules)."""
    from formreader.io.pages import load_gray
    from formreader.reading.field_read import read_field_images
    from formreader.results import ScanOptions

    return read_field_images([load_gray(r.image) for r in rows], recognizer, ScanOptions(field_mode="field"))


def score(rows: list[LabelledField], fields: list[Any], values: list[str] | None = None) -> dict[str, float]:
    """How the readers did on ``rows`` (read as ``fields``; ``values`` in place of theirs):
    share read right, share ok, and of those ok, share right."""
    values = [f.value for f in fields] if values is None else values
    right = [v == r.value for v, r in zip(values, rows)]
    ok = [f.status == "ok" for f in fields]
    n_ok = sum(ok)
    return {"fields": len(rows), "right": round(float(np.mean(right)), 4), "ok": round(n_ok / len(rows), 4),
            "ok_right": round(sum(a and b for a, b in zip(ok, right)) / n_ok, 4) if n_ok else 1.0}


def pick_cases(rows: list[LabelledField], fields: list[Any]) -> list[tuple[str, float, str, float, str]]:
    """Each of ``rows`` as both readers read it (``fields``, read keeping the segmenter's value),
    for :func:`formreader.reading.judge.choose_pick_margin`: (segmenter's digits, its
    confidence, string reader's digits, its weakest digit, the truth)."""
    cases = []
    for f, r in zip(fields, rows):
        text, confs = f.second if f.second is not None else ("", ())
        digit_confs = [p for c, p in zip(text, confs) if c.isdigit()]
        cases.append((f.value, f.confidence, "".join(c for c in text if c.isdigit()), min(digit_confs, default=0.0),
                      r.value))
    return cases


def _progress(total: int, what: str) -> Any:
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit="step", leave=False, dynamic_ncols=True,
                disable=not sys.stderr.isatty())


def tune_digits(base: Path, samples: Samples, mnist: Any, cfg: FineTuneConfig, log: Log) -> Any:
    """The digit CNN at ``base``, fine-tuned on the user's crops mixed 1:1 with MNIST."""
    import keras

    from formreader.training.augment import mild

    model = keras.saving.load_model(base, compile=False)
    if not len(samples.digits):
        log("digit CNN: no field could be cut into its label's digits; left as it was")
        return model
    rng = np.random.default_rng(cfg.seed)
    pick = rng.choice(len(mnist.y_train), len(samples.digits), replace=len(samples.digits) > len(mnist.y_train))
    x = np.concatenate([samples.crops, mnist.x_train[pick].astype(np.float32) / 255.0])[..., None]
    y = np.concatenate([samples.digits, mnist.y_train[pick].astype(np.int64)])
    model.compile(optimizer=keras.optimizers.Adam(cfg.digit_lr), loss="sparse_categorical_crossentropy")
    mine = len(samples.digits)
    steps = _steps(len(y), 2 * cfg.batch, cfg)
    bar = _progress(steps, "digit CNN")
    for idx in _batches(len(y), 2 * cfg.batch, steps, rng):
        xb = x[idx].copy()
        for i, j in enumerate(idx):
            if j < mine:  # the user's crops are read many times: never twice the same pixels
                xb[i, ..., 0] = mild(xb[i, ..., 0] * 255.0, rng)
        model.train_on_batch(xb, y[idx])
        bar.update(1)
    bar.close()
    return model


def _steps(items: int, per_step: int, cfg: FineTuneConfig) -> int:
    """Training steps over ``items`` samples, ``per_step`` at a time: ``cfg.epochs`` passes, and
    at least ``cfg.min_steps`` (a few hundred fields make few steps per pass, too few to learn
    from; the redrawn samples keep the reader from learning their pixels by heart)."""
    return max(cfg.epochs * int(np.ceil(items / per_step)), cfg.min_steps)


def _batches(items: int, per_step: int, steps: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """``steps`` batches of indices into ``items`` samples, each pass over them shuffled anew."""
    order = np.zeros(0, np.int64)
    for _ in range(steps):
        if len(order) < per_step:
            order = np.concatenate([order, rng.permutation(items)])
        yield order[:per_step]
        order = order[per_step:]


def tune_strings(base: Path, samples: Samples, mnist: Any, cfg: FineTuneConfig, log: Log) -> Any:
    """The string reader at ``base`` (its Keras file), fine-tuned on the user's strips mixed 1:1
    with synthetic MNIST strings."""
    import keras
    import tensorflow as tf

    from formreader.training.string_synth import StringSample, StringWriter, pack
    from formreader.training.train_strings import ctc_step

    model = keras.saving.load_model(base, compile=False)
    if not samples.strips:
        log("string reader: no strip; left as it was")
        return model
    width = 352
    strips = [(img, text) for img, text in samples.strips if img.shape[1] <= width]
    writer = StringWriter(mnist.x_train, mnist.y_train, seed=cfg.seed, width=width)
    step = ctc_step(model, tf.keras.optimizers.Adam(cfg.string_lr))

    half = cfg.batch // 2
    steps = _steps(len(strips), half, cfg)
    bar = _progress(steps, "string reader")
    for idx in _batches(len(strips), half, steps, writer.rng):
        mine = [StringSample(_jittered(strips[j][0], width, writer.rng), strips[j][1]) for j in idx]
        x, y, lengths, _ = pack(mine + [writer.sample() for _ in range(half)], width, writer.rng)
        step(tf.constant(x), tf.constant(y), tf.constant(lengths))
        bar.update(1)
    bar.close()
    return model


def _jittered(strip: Any, width: int, rng: np.random.Generator) -> Any:
    """``strip`` redrawn (:func:`formreader.training.augment.jitter_strip`), or as it is when the
    redrawn one would not fit the ``width`` the reader is trained at."""
    from formreader.training.augment import jitter_strip

    out = jitter_strip(strip, rng)
    return out if out.shape[1] <= width else strip


def _sha(rows: list[LabelledField]) -> str:
    """A hash of the labelled data: every image's bytes and its value, in row order."""
    h = hashlib.sha256()
    for r in rows:
        h.update(f"{r.value}\0".encode())
        h.update(r.image.read_bytes())
    return h.hexdigest()


def train_fields(labels: Path, out: Path, mnist: Any, cfg: FineTuneConfig = FineTuneConfig(),
                 force: bool = False, log: Log = print) -> dict[str, Any]:
    """Fine-tune the shipped readers on LABELS.csv and write the bundle ``out`` (see the module
    docstring). Returns the manifest.

    Kept in one piece: a fine-tuning run is one story told in order (split, judge before, tune
    both readers, judge after, write the bundle); its steps are this module's helpers."""
    import keras
    import tensorflow as tf

    from formreader import __version__
    from formreader.reading.judge import choose_pick_margin, pick_value
    from formreader.recognizer.bundle import BUNDLE_FORMAT, DIGITS, MANIFEST, STRINGS
    from formreader.recognizer.model import load_model, screen_path, second_path
    from formreader.recognizer.shipped import default_model_path, string_model_path
    from formreader.training.train import write_export
    from formreader.training.train_strings import string_model_to_onnx

    if out.is_file() or (out.is_dir() and any(out.iterdir())):
        raise OutputError(f"{out}: already exists; give a new folder for the bundle")
    started = time.time()
    rows, problems = read_labels(labels)
    for line in problems:
        log(line)
    train_rows, held = split(rows, cfg.validation, cfg.seed)
    base_digits = default_model_path()
    base_strings = string_model_path()
    if base_strings is None or not base_strings.with_suffix(".keras").is_file():
        raise DataError("the string reader to start from has no .keras file beside its .onnx")
    base = load_model(base_digits)
    log(f"{len(rows)} labelled fields: {len(train_rows)} to learn from, {len(held)} held out to judge")
    samples = cut_samples(train_rows, base)
    log(f"{len(samples.digits)} digit crops from {len(train_rows) - samples.uncut} fields "
        f"({samples.uncut} could not be cut into their label's digits); {len(samples.strips)} strips")
    before = score(held, read_held(held, base))
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    digits_model = tune_digits(base_digits, samples, mnist, cfg, log)
    strings_model = tune_strings(base_strings.with_suffix(".keras"), samples, mnist, cfg, log)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    digits_model.save(tmp / DIGITS)
    write_export(tmp / DIGITS, digits_model)
    for beside in (screen_path(base_digits), second_path(base_digits)):
        for file in (beside, beside.with_suffix(".onnx")):  # the network and its export, as shipped
            if file.is_file():
                shutil.copyfile(file, tmp / file.name.replace(base_digits.stem, Path(DIGITS).stem, 1))
    (tmp / STRINGS).write_bytes(string_model_to_onnx(strings_model))
    strings_model.save(tmp / Path(STRINGS).with_suffix(".keras"))
    manifest: dict[str, Any] = {
        "bundle_format": BUNDLE_FORMAT, "formreader_version": __version__,
        "created": time.strftime("%Y-%m-%d", time.gmtime()),
        "base": {"digits": base_digits.name, "strings": base_strings.name},
        "labels": {"file": labels.name, "sha256": _sha(rows), "fields": len(rows), "skipped": len(problems),
                   "trained_on": len(train_rows), "held_out": len(held), "digit_crops": int(len(samples.digits))},
        "config": asdict(cfg), "held_out_before": before,
    }
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    # Read once keeping the segmenter's values: the margin is chosen on them, and a field's
    # value under a margin is pick_value of the same readings (its status does not depend on it).
    keep = copy.copy(load_model(tmp))
    keep.pick_margin = None
    fields = read_held(held, keep)
    cases = pick_cases(held, fields)
    margin = manifest["string_pick_margin"] = choose_pick_margin(cases)
    after = score(held, fields, [pick_value(s, sc, t, tc, margin) for s, sc, t, tc, _ in cases])
    manifest["held_out_after"] = after
    manifest["training_seconds"] = round(time.time() - started, 1)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log(f"held-out fields read right: {before['right']:.1%} before, {after['right']:.1%} after "
        f"(ok {before['ok']:.1%} -> {after['ok']:.1%}, of which right {before['ok_right']:.1%} -> "
        f"{after['ok_right']:.1%})")
    margin = manifest["string_pick_margin"]
    log("readers disagreeing: " + ("the segmenter's digits kept" if margin is None else
                                   f"the string reader's digits taken when surer by {margin:+.2f}"))
    if after["right"] < before["right"] and not force:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"the fine-tuned readers read the held-out fields worse ({after['right']:.1%} against "
                        f"{before['right']:.1%}); no bundle written (--force writes it anyway)")
    if out.is_dir():
        out.rmdir()  # empty, checked above
    tmp.rename(out)
    return manifest
