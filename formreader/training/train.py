"""Train the digit CNN on MNIST plus scan-like variants and non-digit marks; write a model card.

Each epoch sees every training digit once, either gently jittered (keeps clean MNIST accuracy)
or redrawn as a scan would show it (see :mod:`formreader.training.augment`), plus freshly generated
reject-class marks. Batches are a pure function of (seed, epoch, batch index), so the same data
and seed give the same model.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from formreader.recognizer.model import REJECT, Recognizer
from formreader.training.augment import REJECT_KINDS, mild, reject_mark, scan_digit
from formreader.training.data import Mnist


@dataclass
class TrainConfig:
    arch: str = "full"  # a key of formreader.recognizer.model.ARCHITECTURES
    epochs: int = 24
    batch_size: int = 128
    seed: int = 1
    val_size: int = 5000
    learning_rate: float = 2e-3
    lr_decay: float = 0.88  # per epoch
    scan_fraction: float = 0.5  # share of digits redrawn as scans
    reject_fraction: float = 0.15  # reject marks added per batch, relative to batch size
    dropout: float = 0.4
    patience: int = 6
    scan_variants: int = 2  # precomputed scan-style copies of each training digit
    warp: float = 0.0  # share of training digits bent by an elastic distortion (augment.elastic)
    grey: float = 0.5  # share of scan-style digits and reject marks shaded as from a grey page
    limit: int | None = None  # use only the first N training digits (smoke tests)
    init: str | None = None  # start from this model's weights (same architecture) instead of random
    page_crops: int = 0  # synthetic pages per shipped pipeline cut into training crops (pagecrops)
    page_share: float = 0.5  # share of each batch's digits that are page crops, when there are any
    teacher: str | None = None  # learn this model's probabilities on every input instead of the labels


def make_pools(x: np.ndarray, y: np.ndarray, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Scan-style variants of every digit and a pool of reject marks, generated once.

    Redrawing a digit as a scan costs ~0.5 ms of Python; doing it once per digit per variant,
    instead of once per epoch, keeps a full training run inside the 2-core time budget.
    """
    rng = np.random.default_rng([cfg.seed, 2024])
    scan = np.empty((cfg.scan_variants, len(x), 28, 28), np.float32)
    for v in range(cfg.scan_variants):
        for i in range(len(x)):
            scan[v, i] = scan_digit(x[i], rng, cfg.warp, cfg.grey)
    n_rej = int(len(x) * cfg.reject_fraction * cfg.scan_variants)
    rejects = np.stack([reject_mark(x, y, rng, grey=cfg.grey) for _ in range(max(n_rej, 1))])
    return scan, rejects


def _digit_batch(x: np.ndarray, y: np.ndarray, idx: np.ndarray, pools: tuple[np.ndarray, np.ndarray],
                 cfg: TrainConfig, rng: np.random.Generator,
                 pages: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits (mild or scan-style), reject marks and, given ``pages``, page crops: so many
    that they make ``cfg.page_share`` of the batch's digits."""
    scan, rejects = pools
    n_rej = int(round(len(idx) * cfg.reject_fraction))
    n_page = 0 if pages is None else int(round(len(idx) * cfg.page_share / (1.0 - cfg.page_share)))
    images = np.empty((len(idx) + n_rej + n_page, 28, 28), np.float32)
    for j, i in enumerate(idx):
        if rng.random() < cfg.scan_fraction:
            images[j] = scan[int(rng.integers(len(scan))), i]
        else:
            images[j] = mild(x[i], rng, cfg.warp)
    images[len(idx) : len(idx) + n_rej] = rejects[rng.integers(len(rejects), size=n_rej)]
    parts = [y[idx], np.full(n_rej, REJECT)]
    if pages is not None and n_page:
        pick = rng.integers(len(pages[1]), size=n_page)
        images[len(idx) + n_rej :] = pages[0][pick]
        parts.append(pages[1][pick])
    return images[..., None], np.concatenate(parts).astype(np.int64)


def _make_sequence(x: np.ndarray, y: np.ndarray, pools: tuple[np.ndarray, np.ndarray],
                   cfg: TrainConfig, pages: tuple[np.ndarray, np.ndarray] | None = None,
                   teacher: Recognizer | None = None) -> Any:
    import keras

    class AugmentedDigits(keras.utils.PyDataset):
        """Batch i of epoch e is generated from seed (cfg.seed, e, i): reproducible."""

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.order = self._order()

        def _order(self) -> np.ndarray:
            return np.random.default_rng([cfg.seed, self.epoch]).permutation(len(x))

        def __len__(self) -> int:
            return int(np.ceil(len(x) / cfg.batch_size))

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            idx = self.order[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            rng = np.random.default_rng([cfg.seed, self.epoch, i, 7])
            images, labels = _digit_batch(x, y, idx, pools, cfg, rng, pages)
            if teacher is None:
                return images, labels
            return images, teacher.probabilities(images[..., 0])

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self.order = self._order()

    return AugmentedDigits()


# The scan-style test set is drawn with this seed for every model. It used to be the training
# seed + 1, so two models' cards scored different draws: C (seed 1) and D (seed 3) read 98.19%
# and 97.85% on their own draws, but 190/226 and 199/211 errors on the same two draws. Draws
# differ by more than those models do, so only a shared draw compares models.
SCAN_TEST_SEED = 1001
# Page crops come from synthetic pages with seeds from here on (golden samples use 1000-1007,
# bench_accuracy 7000 and up); they are drawn with training digits only, so no seed can leak.
PAGE_SEED = 50000


def _initial_weights(model: Any, path: str) -> None:
    """Load ``path``'s weights into ``model`` (same architecture), or say why not."""
    from formreader.errors import ModelError
    from formreader.recognizer.model import load_keras_model

    try:
        model.set_weights(load_keras_model(path).get_weights())
    except ValueError as exc:
        raise ModelError(f"{path}: not the architecture being trained ({exc})") from None


def _split_seed(cfg: TrainConfig, init_card: dict[str, Any] | None) -> int:
    """The seed that splits training from validation digits: the starting model's, when its card
    says (a fine-tuned model must validate on digits its starting model never trained on), else
    ``cfg.seed``."""
    card = (init_card or {}).get("hyperparameters", {})
    return int(card.get("split_seed", card.get("seed", cfg.seed)))


def _init_card(path: str | None) -> dict[str, Any] | None:
    """What the starting model was (from its card, when it has one): a fine-tuned model's card
    would otherwise hide most of its training."""
    if not path:
        return None
    card = Path(path).with_suffix(".json")
    out: dict[str, Any] = {"path": path}
    if card.is_file():
        base = json.loads(card.read_text())
        out.update({k: base[k] for k in ("hyperparameters", "epochs_run", "training_seconds", "init") if k in base})
    return out


def _page_crops(cfg: TrainConfig, x: np.ndarray, y: np.ndarray, verbose: int) -> Any:
    """Page crops for fine-tuning: the pages are read with the ``cfg.init`` model (and its screen),
    else with the teacher, whose probabilities on them are the targets anyway."""
    from formreader.errors import ModelError
    from formreader.recognizer.model import load_model
    from formreader.training.drawing import Digits
    from formreader.training.pagecrops import page_crops

    cutter = cfg.init or cfg.teacher
    if not cutter:
        raise ModelError("page crops are cut by an existing model: give one to start from (--init) or a --teacher")

    def progress(done: int, total: int) -> None:
        if verbose and (done % 50 == 0 or done == total):
            print(f"page crops: {done}/{total} pages", flush=True)

    return page_crops(Digits.from_mnist(x, y), load_model(cutter), cfg.page_crops, PAGE_SEED, progress=progress)


def _teacher(cfg: TrainConfig) -> Recognizer | None:
    """The model whose probabilities are the targets (knowledge distillation), alone.

    Why: the screen's confident answers are kept without asking the full model, so the screen
    must agree with the full model, not merely be accurate. Trained on the labels, it is sure of
    different digits than the full model is, and a strict threshold (sending many crops on) is
    the price; trained on the full model's own probabilities, its sureness follows the full
    model's.
    """
    if not cfg.teacher:
        return None
    from formreader.recognizer.model import load_model

    return load_model(cfg.teacher, screen=False)


def score_scan_style(rec: Recognizer, data: Mnist) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model card's scan-style test and non-digit marks report, on the one fixed draw
    (MNIST test digits redrawn as scans, 3,000 generated marks)."""
    from formreader.training.evaluate import digit_report, reject_report

    sets = fixed_eval_sets(data.x_test, data.y_test, SCAN_TEST_SEED, n_reject=3000)
    scan = digit_report(rec.probabilities(sets["scan"]), data.y_test)
    marks = reject_report(rec.probabilities(sets["rejects"]), sets["reject_kinds"])
    summary = {**{k: scan[k] for k in ("n", "accuracy", "errors", "rejected", "ece")}, "seed": SCAN_TEST_SEED}
    return summary, marks


def fixed_eval_sets(x: np.ndarray, y: np.ndarray, seed: int, n_reject: int) -> dict[str, Any]:
    """Scan-style copies of ``x`` and generated reject marks, deterministic for a seed."""
    rng = np.random.default_rng([seed, 99])
    scan = np.stack([scan_digit(d, rng) for d in x]) if len(x) else np.zeros((0, 28, 28), np.float32)
    kinds = [REJECT_KINDS[i % len(REJECT_KINDS)] for i in range(n_reject)]
    rejects = np.stack([reject_mark(x, y, rng, k) for k in kinds])
    return {"scan": scan, "rejects": rejects, "reject_kinds": kinds}


def _plot_history(history: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = range(1, len(history["loss"]) + 1)
    ax1.plot(epochs, history["accuracy"], label="train")
    ax1.plot(epochs, history["val_accuracy"], label="validation")
    ax1.set_title("accuracy")
    ax2.plot(epochs, history["loss"], label="train")
    ax2.plot(epochs, history["val_loss"], label="validation")
    ax2.set_title("loss")
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_export(out: Path, model: Any) -> None:
    """The ONNX export beside the saved model (``X.onnx`` beside ``X.keras``), so that reading
    needs no TensorFlow; a network the exporter does not know is read through Keras instead."""
    from formreader.recognizer.infer import UnsupportedModel, write_beside

    try:
        write_beside(out, model)
    except UnsupportedModel:
        out.with_suffix(".onnx").unlink(missing_ok=True)  # never leave a stale export beside it


def train(data: Mnist, out: Path, cfg: TrainConfig, verbose: int = 1) -> dict[str, Any]:
    """Train, save ``out`` (no optimizer state), its model card ``out.json`` and ``out.png``.

    Kept in one piece: a training run is one story told in order (data, model, fit, evaluate,
    export, card); its steps are this package's helpers."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from formreader.recognizer.model import ARCHITECTURES
    from formreader.training.evaluate import digit_report

    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    start = time.time()

    x_all, y_all = data.x_train, data.y_train
    init_card = _init_card(cfg.init)
    split_seed = _split_seed(cfg, init_card)
    perm = np.random.default_rng([split_seed, 12345]).permutation(len(x_all))
    val_idx, train_idx = perm[: cfg.val_size], perm[cfg.val_size :]
    if cfg.limit:
        train_idx = train_idx[: cfg.limit]
        val_idx = val_idx[: max(200, cfg.limit // 10)]
    x_train, y_train = x_all[train_idx], y_all[train_idx]
    x_val, y_val = x_all[val_idx], y_all[val_idx]

    val_sets = fixed_eval_sets(x_val, y_val, cfg.seed, n_reject=max(60, len(x_val) // 5))
    x_v = np.concatenate([x_val / 255.0, val_sets["scan"], val_sets["rejects"]]).astype(np.float32)
    y_v = np.concatenate([y_val, y_val, np.full(len(val_sets["rejects"]), REJECT)])

    if cfg.arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {cfg.arch!r} (expected one of {', '.join(ARCHITECTURES)})")
    build = ARCHITECTURES[cfg.arch]
    model = build(cfg.dropout)
    if cfg.init:
        _initial_weights(model, cfg.init)
    crops = _page_crops(cfg, x_train, y_train, verbose) if cfg.page_crops else None
    teacher = _teacher(cfg)
    if teacher is not None:
        y_v = teacher.probabilities(x_v)
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss="sparse_categorical_crossentropy" if teacher is None else "categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [
        keras.callbacks.LearningRateScheduler(lambda e: cfg.learning_rate * cfg.lr_decay**e),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience,
                                      restore_best_weights=True),
    ]
    pools = make_pools(x_train, y_train, cfg)
    hist = model.fit(
        _make_sequence(x_train, y_train, pools, cfg, None if crops is None else (crops.x, crops.y), teacher),
        validation_data=(x_v[..., None], y_v),
        epochs=cfg.epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
    train_seconds = time.time() - start

    # Save a fresh, uncompiled copy: no optimizer state in the shipped file.
    final = build(cfg.dropout)
    final.set_weights(model.get_weights())
    out.parent.mkdir(parents=True, exist_ok=True)
    final.save(out)
    write_export(out, final)

    rec = Recognizer(final, out)
    clean = digit_report(rec.probabilities(data.x_test / 255.0), data.y_test)
    scan, rejects = score_scan_style(rec, data)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    card = {
        "model": out.name,
        "classes": [str(d) for d in range(10)] + ["reject"],
        "input": "28x28 float32 in [0,1], white ink on black, MNIST-normalised (formreader.imaging.normalize.to_mnist)",
        "test": {k: clean[k] for k in ("n", "accuracy", "accuracy_digits_only", "errors", "rejected", "ece")},
        "per_class": clean["per_class"],
        "confusion": clean["confusion"],
        "scan_style_test": scan,
        "reject": rejects,
        "data": {"source": data.source, "sha256": data.sha256,
                 "train": int(len(x_train)), "validation": int(len(x_val))},
        "hyperparameters": {**asdict(cfg), "split_seed": split_seed},
        "page_crops": None if crops is None else {**crops.summary(), "first_seed": PAGE_SEED},
        "init": init_card,
        "epochs_run": len(history.get("loss", [])),
        "best_val_loss": float(min(history["val_loss"])) if history.get("val_loss") else None,
        "history": history,
        "training_seconds": round(train_seconds, 1),
        "parameters": int(final.count_params()),
        "environment": {"tensorflow": tf.__version__, "keras": keras.__version__,
                        "python": platform.python_version(), "cpus": os.cpu_count()},
    }
    card_path = out.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    if history.get("loss"):
        _plot_history(history, out.with_suffix(".png"))
    return card
