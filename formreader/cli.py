"""The ``formreader`` command line: a thin layer over the Python API.

Every command turns a :class:`FormreaderError` into one line on stderr and its exit code; heavy
modules (TensorFlow, the scanner) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable, List, Optional, TypeVar

import typer

try:  # typer's usage errors (BadParameter and kin): its own exit 2, never an "internal error"
    from typer.exceptions import TyperException as _UsageBase
except ImportError:  # pragma: no cover - typer before it vendored click
    from click.exceptions import ClickException as _UsageBase  # type: ignore[assignment]

from formreader.errors import ExitCode, FormreaderError
from formreader.results import ScanOptions

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Read handwritten digits off scanned forms into CSV/JSON.",
)

MNIST_HELP = "Directory with the four MNIST IDX files (gzip or raw); default $FORMREADER_MNIST, else the Keras cache."
MODEL_HELP = ("Model: a .keras file, its .onnx export, or a bundle folder from train --fields; default "
              "$FORMREADER_MODEL, else the shipped model.")
WORKERS_HELP = ("Worker processes, each loading the model once; the output is the same with any number. "
                "Default 0: one per core, and no more than one per 100 files (a short batch is read in this "
                "process, which starts at once).")


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> None:
    """Print one error line and exit: the only way commands report user errors."""
    typer.echo(f"formreader: error: {message}", err=True)
    raise typer.Exit(int(code))


VERBOSE = {"on": False}  # set by the top-level --verbose


@app.callback()
def _options(verbose: bool = typer.Option(False, "--verbose", "-v",
                                          help="Show the traceback of an internal error (exit 70).")) -> None:
    """Read handwritten digits off scanned forms into CSV/JSON."""
    VERBOSE["on"] = verbose


# What `pip install formreader` leaves out (reading needs none of it): `formreader[train]`.
TRAINING_STACK = {"tensorflow", "keras", "matplotlib", "onnx"}


def handle_errors(func: F) -> F:
    """Exit codes: 0 all read, 1 some pages failed, 2 usage/config, 3 an output could not be
    written, 70 internal error (traceback with --verbose), 130 interrupted, 141 the reader of
    stdout went away."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FormreaderError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", ExitCode.INTERRUPTED)
        except BrokenPipeError:  # the reader of stdout is gone (`| head`): stop quietly, as a shell tool does
            _quiet_stdout()
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        except (typer.Exit, typer.Abort, SystemExit, _UsageBase):
            raise  # typer's own usage errors (exit 2) and exits
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in TRAINING_STACK:
                raise
            fail(f"this command needs {exc.name.split('.')[0]}, part of the training stack: "  # type: ignore[union-attr]
                 "pip install 'formreader[train]'")
        except Exception as exc:  # a bug: one line, unless asked for the traceback
            if VERBOSE["on"]:
                raise
            fail(f"internal error ({type(exc).__name__}: {exc}); run again with --verbose for the traceback",
                 ExitCode.INTERNAL)

    return wrapper  # type: ignore[return-value]


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that flushing it at exit raises no second error."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no real file behind stdout (a test's buffer)
        pass


class OutputFormat(str, Enum):
    json = "json"
    csv = "csv"


class FieldMode(str, Enum):
    auto = "auto"
    field = "field"
    page = "page"
    boxes = "boxes"
    free = "free"


@app.command()
@handle_errors
def scan(
    paths: List[str] = typer.Argument(..., metavar="PATH...",
                                      help="Image/PDF files, directories (their image and PDF files, sorted) or quoted globs."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                         help="Write results to FILE (replaced atomically when the batch ends) or to a "
                                              "URL (s3://..., through fsspec); default stdout."),
    fmt: Optional[OutputFormat] = typer.Option(None, "--format",
                                               help="json, or csv (one row per field); default: -o's suffix, else json."),
    overlay: Optional[Path] = typer.Option(None, "--overlay", metavar="DIR",
                                           help="Write an annotated PNG per page here, as <stem>-p<page>.png."),
    threshold: float = typer.Option(ScanOptions.threshold, min=0.0, max=1.0,
                                    help="A digit below this confidence puts its field in review."),
    workers: int = typer.Option(0, min=0, max=64, help=WORKERS_HELP),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="local:N|ADDRESS",
                                            help="Read on a Dask cluster: local:N starts N local workers, "
                                                 "tcp://host:8786 uses a running scheduler (needs formreader[dask])."),
    model: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
    mode: FieldMode = typer.Option(FieldMode.auto, "--mode",
                                   help="field: each image is one cropped number; page: a form (its boxes, else "
                                        "free numbers); boxes or free: a form read one way; auto: field or page per "
                                        "image (the JSON's layout says which)."),
    faint_check: bool = typer.Option(True, "--faint-check/--no-faint-check",
                                     help="Review fields showing faint writing that was not read (turn off for "
                                          "forms with light drop-out guides in their boxes)."),
    force: bool = typer.Option(False, "--force", help="Replace overlay PNGs already in the --overlay folder."),
    orient: bool = typer.Option(True, "--orient/--no-orient",
                                help="Turn pages scanned upside down or sideways upright (the JSON's rotation says "
                                     "by how much); --no-orient saves about a quarter of the time on upright pages."),
) -> None:
    """Read the handwritten numbers on scanned pages into JSON or CSV, with a confidence per digit.

    Exit status: 0 every page read, 1 some pages could not be read (each named on stderr),
    2 bad usage (bad option, no inputs matched, no model, an output that is an input),
    3 an output could not be written, 70 internal error, 130 interrupted.
    """
    from formreader.api import check_model, scan_files
    from formreader.driver.batch import Progress, auto_workers, sigterm_as_interrupt
    from formreader.io.inputs import find_inputs
    from formreader.output.clobber import check_outputs, check_overlay_dir
    from formreader.output.writers import format_for, make_writer, open_output

    files, unmatched = find_inputs(paths)
    for line in unmatched:
        typer.echo(f"formreader: warning: {line}", err=True)
    if not files:
        fail("no input files matched " + " ".join(paths))
    from formreader.io.remote import is_url

    if output is not None and not is_url(output) and Path(output).is_dir():
        fail(f"{output}: is a directory; -o needs a file name")
    check_outputs([("-o", output)], files)
    if overlay is not None:
        from formreader.output.report import overlay_stems

        check_overlay_dir(overlay, overlay_stems(files), force)
        try:
            overlay.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"{overlay}: cannot create overlay directory ({exc.strerror or exc})", ExitCode.OUTPUT)
    options = ScanOptions(threshold=threshold, field_mode=mode.value, faint_check=faint_check, orient=orient)
    workers = workers or auto_workers(len(files))
    check_model(model, workers, remote=scheduler is not None)  # a missing model is exit 2 before any output
    if scheduler is not None:
        from formreader.driver.cluster import parse_scheduler

        parse_scheduler(scheduler)

    pages = failed = review = done = 0
    interrupted = False
    with sigterm_as_interrupt(), open_output(output) as stream, Progress(len(files)) as progress:
        writer = make_writer(format_for(output, fmt.value if fmt else None), stream)
        try:
            for results in scan_files(files, options, model, workers=workers, overlay_dir=overlay,
                                      scheduler=scheduler):
                for result in results:
                    writer.write(result)
                    if result.error is not None:
                        progress.note(f"formreader: error: {result.error}")
                    review += sum(f.status != "ok" for f in result.fields)
                bad = sum(r.error is not None for r in results)
                pages += len(results)
                failed += bad
                done += 1
                progress.advance(len(results), bad)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what is read is kept, and said so
            interrupted = True
        writer.finish()
    if interrupted:
        typer.echo(f"formreader: interrupted after {done} of {len(files)} file(s); the results of those "
                   f"{done} were written", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    typer.echo(f"formreader: {pages} page(s) from {len(files)} file(s): {pages - failed} read, "
               f"{failed} failed, {review} field(s) to review", err=True)
    if failed:
        raise typer.Exit(int(ExitCode.SOME_FAILED))


@app.command()
@handle_errors
def train(
    mnist: Optional[Path] = typer.Option(None, "--mnist", help=MNIST_HELP),
    epochs: int = typer.Option(24, min=1, help="Maximum epochs (early stopping may end sooner)."),
    out: Path = typer.Option(Path("models/digits.keras"), "--out", help="Where to write the model."),
    arch: str = typer.Option("full", "--arch", help="Network: 'full' (the reader), 'lite' (its screen, shipped as "
                             "models/digits-fast.keras; trained with --teacher) or 'fast' (a larger screen "
                             "trained on the labels)."),
    seed: int = typer.Option(1, help="Random seed: same data and seed give the same model."),
    lr_decay: float = typer.Option(0.88, "--lr-decay", min=0.5, max=1.0,
                                   help="Learning rate factor per epoch (the shipped full model: 0.92 over 40 epochs)."),
    patience: int = typer.Option(6, min=1, help="Stop after this many epochs without a better validation loss."),
    batch_size: int = typer.Option(128, min=8, help="Digits per training step."),
    scan_variants: int = typer.Option(2, "--scan-variants", min=1,
                                      help="Scan-style copies drawn of each training digit."),
    warp: float = typer.Option(0.0, "--warp", min=0.0, max=1.0,
                               help="Share of training digits bent by an elastic distortion."),
    grey: float = typer.Option(0.5, "--grey", min=0.0, max=1.0,
                               help="Share of scan-style digits and reject marks shaded as a grey page's are "
                                    "(the rest binary, as from a bilevel scan)."),
    learning_rate: float = typer.Option(2e-3, "--learning-rate", min=1e-6, max=1.0, help="Initial learning rate."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start from this model's weights (same --arch), "
                                        "e.g. to fine-tune on --page-crops; its card's seed keeps the validation "
                                        "digits it never trained on."),
    page_crops: int = typer.Option(0, "--page-crops", min=0,
                                   help="Also train on the crops the --init model cuts from this many synthetic "
                                        "pages per shipped pipeline (drawn with training digits)."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="Learn this model's probabilities on every "
                                           "training input instead of the labels (distillation: how the screen "
                                           "is made to agree with the full model)."),
    limit: Optional[int] = typer.Option(None, min=100, help="Train on the first N digits only (smoke tests)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-epoch progress."),
    fields: Optional[Path] = typer.Option(None, "--fields", metavar="LABELS.csv",
                                          help="Fine-tune the shipped readers on these labelled field images "
                                               "(columns image,value) and write a model bundle folder to --out."),
    field_epochs: int = typer.Option(3, "--field-epochs", min=1, max=50, help="--fields: passes over the fields."),
    field_steps: int = typer.Option(600, "--field-steps", min=1, max=100000,
                                    help="--fields: training steps of each reader at least, however few the "
                                         "fields (each step sees the fields redrawn)."),
    validation: float = typer.Option(0.1, "--validation", min=0.01, max=0.5,
                                     help="--fields: share of the fields held out to judge the bundle."),
    force: bool = typer.Option(False, "--force", help="--fields: write the bundle even if it reads the held-out "
                                                      "fields worse than the shipped models."),
) -> None:
    """Train the digit CNN (with the reject class) and write the model, its card (.json) and curves (.png);
    or, with --fields, fine-tune the readers on your own labelled fields into a bundle
    (`formreader scan --model BUNDLE`)."""
    if fields is not None:
        from formreader.training.data import load_mnist
        from formreader.training.finetune import FineTuneConfig, train_fields

        if out == Path("models/digits.keras"):
            raise typer.BadParameter("give the bundle folder to write", param_hint="--out")
        cfg = FineTuneConfig(epochs=field_epochs, min_steps=field_steps, seed=seed, validation=validation)
        manifest = train_fields(fields, out, load_mnist(mnist), cfg, force,
                                log=lambda line: typer.echo(line, err=True))
        typer.echo(f"wrote {out}: held-out fields read right {manifest['held_out_before']['right']:.1%} -> "
                   f"{manifest['held_out_after']['right']:.1%} in {manifest['training_seconds']:.0f} s")
        return
    from formreader.recognizer.model import ARCHITECTURES
    from formreader.training.data import load_mnist
    from formreader.training.train import TrainConfig
    from formreader.training.train import train as run_training

    if arch not in ARCHITECTURES:
        raise typer.BadParameter(f"unknown network {arch!r} (expected one of: {', '.join(ARCHITECTURES)})", param_hint="--arch")
    if init is not None and not init.is_file():
        raise typer.BadParameter(f"{init}: model file not found", param_hint="--init")
    if teacher is not None and not teacher.is_file():
        raise typer.BadParameter(f"{teacher}: model file not found", param_hint="--teacher")
    if page_crops and init is None and teacher is None:
        raise typer.BadParameter("page crops are cut by an existing model: give one with --init or --teacher", param_hint="--page-crops")
    data = load_mnist(mnist)
    cfg = TrainConfig(arch=arch, epochs=epochs, seed=seed, batch_size=batch_size, limit=limit,
                      lr_decay=lr_decay, patience=patience, scan_variants=scan_variants, warp=warp, grey=grey,
                      learning_rate=learning_rate, init=None if init is None else str(init),
                      page_crops=page_crops, teacher=None if teacher is None else str(teacher))
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
    scan_style: bool = typer.Option(False, "--scan-style",
                                    help="Also score the test digits redrawn as scans and 3,000 non-digit "
                                         "marks (the model card's fixed draw; ~20 s more)."),
) -> None:
    """Accuracy, per-class table, confusion matrix and calibration on the MNIST test set."""
    from formreader.recognizer.model import load_model
    from formreader.training.data import load_mnist
    from formreader.training.evaluate import digit_report, format_table, save_error_grid

    data = load_mnist(mnist)
    rec = load_model(model)
    images = data.x_test.astype("float32") / 255.0
    probs = rec.probabilities(images)
    report = digit_report(probs, data.y_test)
    shown = save_error_grid(images, data.y_test, probs, errors_png)
    report["errors_png"] = str(errors_png)
    report["model"] = str(rec.path)
    if scan_style:
        from formreader.training.train import score_scan_style

        report["scan_style_test"], report["reject"] = score_scan_style(rec, data)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        typer.echo(format_table(report))
        if scan_style:
            st, marks = report["scan_style_test"], report["reject"]
            typer.echo(f"\nscan-style test: accuracy {st['accuracy'] * 100:.2f}% ({st['errors']} errors, "
                       f"{st['rejected']} rejected); non-digit marks rejected or below "
                       f"{marks['threshold']:.0%} confidence: {marks['rejected_or_low_conf'] * 100:.1f}%")
        typer.echo(f"\n{shown} misclassified digits drawn in {errors_png}")


@app.command()
@handle_errors
def predict(
    images: List[Path] = typer.Argument(..., metavar="IMAGE...", help="Images of one handwritten digit each: photos or scans, any size, "
                                        "either polarity, plain, ruled or squared paper, uneven light."),
    model: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line; \"reason\" says why when "
                                 "\"digit\" is null."),
) -> None:
    """Recognise one handwritten digit per image: digit, confidence and the top 3, or why there is none.

    A blank image gives "no digit (no ink ...)"; a letter, a symbol or a scribble gives "not a
    digit". The confidence is the reading's probability in the view of the image that supports
    it least (tilted, stood upright, or read by the second network).
    """
    from formreader.io.pages import load_gray
    from formreader.reading.single_digit import STATUS_NO_INK, read_digit
    from formreader.recognizer.model import load_model

    failed = 0
    rec = None  # loaded with the first image that opens: a list of unreadable files needs no model
    for path in images:
        try:
            gray = load_gray(path)
        except FormreaderError as exc:
            typer.echo(f"formreader: error: {exc}", err=True)
            failed += 1
            continue
        rec = rec or load_model(model)
        r = read_digit(gray, rec)
        if as_json:
            row: dict[str, Any] = {"source": str(path), "digit": r.digit, "confidence": round(r.confidence, 4),
                                   "top3": [{"label": lab, "p": round(q, 4)} for lab, q in r.top3]}
            if r.digit is None:
                row["reason"] = f"{r.status}: {r.reason}"
            typer.echo(json.dumps(row))
        elif r.status == STATUS_NO_INK:
            typer.echo(f"{path}: no digit ({r.status}: {r.reason})")
        else:
            alts = ", ".join(f"{lab} {q:.3f}" for lab, q in r.top3)
            why = f"; {r.reason}" if r.reason else ""
            typer.echo(f"{path}: {r.digit or r.status} (confidence {r.confidence:.3f}; top 3: {alts}{why})")
    if failed:
        raise typer.Exit(int(ExitCode.SOME_FAILED))


@app.command()
@handle_errors
def run(
    pipeline: Path = typer.Argument(..., metavar="PIPELINE", help="Pipeline YAML (see pipelines/); relative paths in it are relative to it."),
    overrides: List[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                        help="Override a key, e.g. threshold=0.8 or fields.0.regex=[0-9]{5}."),
    check: bool = typer.Option(False, "--check", help="Validate the pipeline and its inputs, then stop."),
    model: Optional[Path] = typer.Option(None, "--model", help=MODEL_HELP + " Overrides the pipeline's model."),
    force: bool = typer.Option(False, "--force", help="Replace overlay PNGs already in outputs.overlays."),
    workers: int = typer.Option(0, min=0, max=64, help=WORKERS_HELP),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", metavar="local:N|ADDRESS",
                                            help="Read on a Dask cluster: local:N starts N local workers, "
                                                 "tcp://host:8786 uses a running scheduler (needs formreader[dask])."),
) -> None:
    """Run a pipeline: read its inputs, name and validate fields, write CSV/JSON/overlays/review.html.

    Exit status as for scan: 0 every page read, 1 some pages could not be read, 2 bad pipeline
    or usage, 3 an output could not be written, 70 internal error, 130 interrupted.
    """
    from formreader.config import load_pipeline

    extra = [f"model={model.resolve()}"] if model is not None else []
    loaded = load_pipeline(pipeline, [*overrides, *extra])
    from formreader.driver.pipeline import check_outputs

    check_outputs(loaded, force)
    if check:
        typer.echo(f"{pipeline}: ok ({len(loaded.files)} input files, {len(loaded.spec.fields)} named fields)")
        return
    from formreader.driver.batch import Progress, auto_workers, sigterm_as_interrupt
    from formreader.driver.pipeline import run as run_pipeline

    scheduler = scheduler or loaded.spec.scheduler
    workers = workers or auto_workers(len(loaded.files))
    if workers > 1 or scheduler is not None:  # one process reads with the model it loads first
        from formreader.driver.files import model_file

        model_file(loaded.model)  # a missing model is exit 2 before any output is started
    if scheduler is not None:
        from formreader.driver.cluster import parse_scheduler

        parse_scheduler(scheduler)
    with sigterm_as_interrupt(), Progress(len(loaded.files)) as progress:
        def report(page: Any) -> None:
            if page.error:
                progress.note(f"formreader: error: {page.error}")

        def advance(pages: list[Any]) -> None:
            progress.advance(len(pages), sum(p.error is not None for p in pages))

        _, summary = run_pipeline(loaded, on_page=report, to_stdout=True, workers=workers, on_file=advance,
                                  scheduler=scheduler)
    typer.echo(f"{summary.pages} pages ({summary.failed} failed), {summary.fields} fields, "
               f"{summary.review} for review", err=True)
    for path in summary.written:
        if not str(path).endswith(".png"):
            typer.echo(f"wrote {path}", err=True)
    if summary.interrupted:
        typer.echo(f"formreader: interrupted after {summary.pages} page(s); the outputs hold those", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if summary.failed:
        raise typer.Exit(int(ExitCode.SOME_FAILED))


@app.command()
@handle_errors
def synth(
    out: Path = typer.Option(Path("samples"), "--out", help="Folder for the images and their .truth.json."),
    kinds: List[str] = typer.Option(["postal", "cheque", "hsf", "numbers"], "--kind",
                                    help="postal, cheque, hsf, numbers (repeat the option for several)."),
    count: int = typer.Option(5, min=1, help="Samples per kind."),
    seed: int = typer.Option(0, help="Sample i of each kind uses seed + i: same seed, same pixels."),
    dpis: List[int] = typer.Option([], "--dpi", min=72, max=600,
                                   help="Resolutions to cycle through (default: random 150-300 per sample)."),
    fmt: str = typer.Option("jpg", "--format", help="jpg (the scanner's own JPEG) or png."),
    mnist: Optional[Path] = typer.Option(None, "--mnist", help=MNIST_HELP),
) -> None:
    """Generate synthetic scans of filled-in forms from MNIST test digits, each with its truth JSON."""
    from formreader.training.drawing import Digits
    from formreader.training.synth import KINDS, write_samples

    bad = [k for k in kinds if k not in KINDS]
    if bad:
        fail(f"--kind: unknown {bad[0]!r} (expected {', '.join(KINDS)})")
    if fmt not in ("jpg", "png"):
        fail(f"--format: unknown {fmt!r} (expected jpg or png)")
    written = write_samples(out, kinds, count, seed, Digits.load_test(mnist), dpis or None, fmt)
    typer.echo(f"wrote {len(written)} samples to {out}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
