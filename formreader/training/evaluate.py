"""How good a model is: accuracy, per-class precision/recall, confusion, calibration, rejects.

The same report feeds ``formreader evaluate`` and the model card written by training, so the
numbers in the card are reproducible with one command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from formreader.recognizer.model import CLASS_NAMES, NUM_CLASSES, REJECT


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: a digit dropped, added or misread each counts as one error, which
    is how the golden tests and ``benchmarks/bench_accuracy.py`` count digit accuracy."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n: int = NUM_CLASSES) -> np.ndarray:
    """Counts (n, n): rows are true classes, columns predictions."""
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (np.asarray(y_true, int), np.asarray(y_pred, int)), 1)
    return cm


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-class confidence over equal-width bins (Guo et al., 2017)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def digit_report(probs: np.ndarray, y_true: np.ndarray) -> dict[str, Any]:
    """Accuracy (a rejected digit counts as wrong), per-class table, confusion, ECE."""
    y_true = np.asarray(y_true, int)
    y_pred = probs.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred)
    per_class = {}
    for c in range(10):
        tp = int(cm[c, c])
        predicted, actual = int(cm[:, c].sum()), int(cm[c, :].sum())
        per_class[CLASS_NAMES[c]] = {
            "precision": tp / predicted if predicted else 0.0,
            "recall": tp / actual if actual else 0.0,
            "support": actual,
        }
    return {
        "n": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "accuracy_digits_only": float((probs[:, :10].argmax(axis=1) == y_true).mean()) if len(y_true) else 0.0,
        "rejected": int((y_pred == REJECT).sum()),
        "ece": expected_calibration_error(probs, y_true),
        "per_class": per_class,
        "confusion": cm[:10].tolist(),  # true digits only; column 10 counts rejects
        "errors": int((y_pred != y_true).sum()),
    }


def reject_report(probs: np.ndarray, kinds: list[str], threshold: float = 0.5) -> dict[str, Any]:
    """On generated non-digit marks: the share rejected or with digit confidence < threshold."""
    kinds_arr = np.asarray(kinds)
    digit_conf = probs[:, :10].max(axis=1)
    ok = (probs.argmax(axis=1) == REJECT) | (digit_conf < threshold)
    by_kind = {k: float(ok[kinds_arr == k].mean()) for k in sorted(set(kinds))}
    return {"n": int(len(kinds)), "rejected_or_low_conf": float(ok.mean()), "threshold": threshold,
            "by_kind": by_kind}


def save_error_grid(images: np.ndarray, y_true: np.ndarray, probs: np.ndarray, path: Path,
                    limit: int = 100) -> int:
    """PNG grid of misclassified digits titled 'true->pred (conf)'; returns how many it shows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y_pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != y_true)[:limit]
    cols = 10
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{y_true[i]}->{CLASS_NAMES[y_pred[i]][:3]} ({probs[i].max():.2f})", fontsize=7)
    fig.suptitle(f"{len(wrong)} misclassified test digits (true->predicted)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return int(len(wrong))


def format_table(report: dict[str, Any]) -> str:
    """Human-readable summary: headline numbers, per-class table and the confusion matrix."""
    lines = [
        f"accuracy {report['accuracy'] * 100:.2f}% on {report['n']} digits "
        f"({report['errors']} errors, {report['rejected']} rejected), ECE {report['ece']:.4f}",
        "",
        "class  precision  recall  support",
    ]
    for name, row in report["per_class"].items():
        lines.append(f"{name:>5}  {row['precision'] * 100:8.2f}%  {row['recall'] * 100:5.2f}%  {row['support']:7d}")
    lines += ["", "confusion (rows true 0-9, columns predicted 0-9 and reject):"]
    lines.append("      " + " ".join(f"{c:>5}" for c in CLASS_NAMES[:10] + ["rej"]))
    for d, row in enumerate(report["confusion"]):
        lines.append(f"{d:>5} " + " ".join(f"{v:>5}" for v in row))
    return "\n".join(lines)
