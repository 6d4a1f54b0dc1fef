"""The ``formreader`` command line: a thin layer over the Python API.

Every command turns a :class:`FormreaderError` into one line on stderr and its exit code; heavy
modules (TensorFlow, the scanner) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, List, Optional, TypeVar

import typer

from .errors import ExitCode, FormreaderError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Read handwritten digits off scanned forms into CSV/JSON.",
)

MNIST_HELP = "Directory with the four MNIST IDX files (gzip or raw); default $FORMREADER_MNIST, else the Keras cache."
MODEL_HELP = "Model file (.keras); default $FORMREADER_MODEL, else the shipped model."


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> None:
    """Print one error line and exit: the only way commands report user errors."""
    typer.echo(f"formreader: error: {message}", err=True)
    raise typer.Exit(int(code))


def handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FormreaderError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", ExitCode.SOME_FAILED)

    return wrapper  # type: ignore[return-value]


@app.command()
@handle_errors
def train(
    mnist: Optional[Path] = typer.Option(None, "--mnist", help=MNIST_HELP),
    epochs: int = typer.Option(24, min=1, help="Maximum epochs (early stopping may end sooner)."),
    out: Path = typer.Option(Path("models/digits.keras"), "--out", help="Where to write the model."),
    seed: int = typer.Option(1, help="Random seed: same data and seed give the same model."),
    batch_size: int = typer.Option(128, min=8),
    limit: Optional[int] = typer.Option(None, min=100, help="Train on the first N digits only (smoke tests)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-epoch progress."),
) -> None:
    """Train the digit CNN (with the reject class) and write the model, its card (.json) and curves (.png)."""
    from .data import load_mnist
    from .train import TrainConfig, train as run_training

    data = load_mnist(mnist)
    cfg = TrainConfig(epochs=epochs, seed=seed, batch_size=batch_size, limit=limit)
    verbose = 0 if quiet else (1 if sys.stderr.isatty() else 2)
    card = run_training(data, out, cfg, verbose=verbose)
    t = card["test"]
    typer.echo(
        f"wrote {out}: MNIST test accuracy {t['accuracy'] * 100:.2f}% ({t['errors']} errors), "
        f"ECE {t['ece']:.4f}, marks rejected {card['reject']['rejected_or_low_conf'] * 100:.1f}%, "
        f"{card['epochs_run']} epochs in {card['training_seconds']:.0f} s"
    )


@app.command()
@handle_errors
def evaluate(
    mnist: Optional[Path] = typer.Option(None, "--mnist", help=MNIST_HELP),
    model: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    errors_png: Path = typer.Option(Path("misclassified.png"), "--errors-png",
                                    help="Where to draw the grid of misclassified test digits."),
) -> None:
    """Accuracy, per-class table, confusion matrix and calibration on the MNIST test set."""
    from .data import load_mnist
    from .evaluate import digit_report, format_table, save_error_grid
    from .model import load_model

    data = load_mnist(mnist)
    rec = load_model(model)
    images = data.x_test.astype("float32") / 255.0
    probs = rec.probabilities(images)
    report = digit_report(probs, data.y_test)
    shown = save_error_grid(images, data.y_test, probs, errors_png)
    report["errors_png"] = str(errors_png)
    report["model"] = str(rec.path)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(format_table(report))
        typer.echo(f"\n{shown} misclassified digits drawn in {errors_png}")


@app.command()
@handle_errors
def predict(
    images: List[Path] = typer.Argument(..., help="Images of single handwritten digits (any size, either polarity)."),
    model: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Recognise one handwritten digit per image: digit, confidence and the top 3."""
    from .io import load_gray
    from .model import CLASS_NAMES, load_model
    from .normalize import ink_from_gray, to_mnist

    import numpy as np

    failed = 0
    crops, names = [], []
    for path in images:
        try:
            crops.append(to_mnist(ink_from_gray(load_gray(path))))
            names.append(path)
        except FormreaderError as exc:
            typer.echo(f"formreader: error: {exc}", err=True)
            failed += 1
    if crops:
        _, probs = load_model(model).classify(np.stack(crops))
        for path, p in zip(names, probs):
            top = [(CLASS_NAMES[int(i)], float(p[i])) for i in np.argsort(-p, kind="stable")[:3]]
            best, conf = top[0]
            if as_json:
                typer.echo(json.dumps({"source": str(path), "digit": best if best != "reject" else None,
                                       "confidence": round(conf, 4),
                                       "top3": [{"label": lab, "p": round(q, 4)} for lab, q in top]}))
            else:
                alts = ", ".join(f"{lab} {q:.3f}" for lab, q in top)
                shown = best if best != "reject" else "not a digit"
                typer.echo(f"{path}: {shown} (confidence {conf:.3f}; top 3: {alts})")
    if failed:
        raise typer.Exit(int(ExitCode.SOME_FAILED))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
