"""Digits per second of the digit CNN, per inference backend and batch size, and whether each
backend reads all 10,000 MNIST test digits exactly as Keras does.

Run by hand on an idle machine (numbers from a busy one mean nothing):

    .venv/bin/python benchmarks/bench_classify.py                 # every backend, table
    .venv/bin/python benchmarks/bench_classify.py --backends recognizer --json

Reference: ``model(x, training=False)`` (eager Keras). A backend is *acceptable* only when its
argmax equals the reference's on all 10,000 test digits. Achieved GFLOP/s is put next to a
measured fp32 floor of this machine: numpy's SGEMM on a large square product (the best the
BLAS reaches on these cores), so the ratio says how far from the hardware each backend is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCHES = (1, 32, 256, 4096)
Forward = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) float32 -> (N, 11)


def macs_per_digit(model: Any) -> int:
    """Multiply-adds of one forward pass, from the layers' output shapes and kernels."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            kh, kw, cin, cout = layer.kernel.shape
            _, oh, ow, _ = layer.output.shape
            total += int(oh * ow * cout * kh * kw * cin)
        elif kind == "Dense":
            total += int(np.prod(layer.kernel.shape))
    return total


def sgemm_gflops(n: int = 2048, seconds: float = 1.5) -> float:
    """fp32 GFLOP/s numpy's BLAS reaches on an n x n product: this machine's practical peak."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float32)
    b = rng.random((n, n), dtype=np.float32)
    a @ b
    calls, start = 0, time.perf_counter()
    while True:
        a @ b
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and calls >= 3:
            return 2.0 * n**3 * calls / elapsed / 1e9


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def chunked(forward: Forward, chunk: int = 256) -> Forward:
    def run(x: np.ndarray) -> np.ndarray:
        return np.concatenate([forward(x[i : i + chunk]) for i in range(0, len(x), chunk)])

    return run


# --- backends ---------------------------------------------------------------------------------


def keras_predict(model: Any) -> Forward:
    return lambda x: model.predict(x[..., None], batch_size=max(len(x), 1), verbose=0)


def keras_call(model: Any) -> Forward:
    return lambda x: np.asarray(model(x[..., None], training=False))


def tf_function(model: Any, xla: bool = False) -> Forward:
    import tensorflow as tf

    fn = tf.function(lambda x: model(x[..., None], training=False), jit_compile=xla,
                     input_signature=None if xla else [tf.TensorSpec([None, 28, 28], tf.float32)])
    return lambda x: fn(x).numpy()


def onnx_fp32(model: Any) -> Forward:
    from formreader.recognizer.infer import onnx_forward

    return onnx_forward(model)


def onnx_int8(model: Any, calibration: np.ndarray) -> Forward:
    """Static int8 (QDQ, per-channel weights) from our fp32 export, calibrated on MNIST *train*."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from formreader.recognizer.infer import keras_to_onnx, thread_count

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"x": calibration[i : i + 100]} for i in range(0, len(calibration), 100)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(keras_to_onnx(model))
        quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = thread_count()
        session = ort.InferenceSession(dst.read_bytes(), opts, providers=["CPUExecutionProvider"])
    return lambda x: session.run(None, {"x": x})[0]


def litert(model: Any, quant: str | None, calibration: np.ndarray) -> Forward:
    """TFLite flatbuffer from TF's converter, run by LiteRT's interpreter (XNNPACK on x86)."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from formreader.recognizer.infer import thread_count

    converter = tf.lite.TFLiteConverter.from_keras_model(model)  # variables frozen to constants
    if quant is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quant == "int8":
        converter.representative_dataset = lambda: ([calibration[i : i + 1, ..., None]] for i in range(300))
    blob = converter.convert()
    interpreters: dict[int, Any] = {}

    def run(x: np.ndarray) -> np.ndarray:
        interp = interpreters.get(len(x))
        if interp is None:
            interp = Interpreter(model_content=blob, num_threads=thread_count())
            interp.resize_tensor_input(interp.get_input_details()[0]["index"], [len(x), 28, 28, 1])
            interp.allocate_tensors()
            interpreters[len(x)] = interp
        interp.set_tensor(interp.get_input_details()[0]["index"], x[..., None])
        interp.invoke()
        return interp.get_tensor(interp.get_output_details()[0]["index"])

    return run


def recognizer(path: Path, screen: bool = True) -> Forward:
    """What the scanner calls: the full model behind its screen (``screen=False``: alone)."""
    from formreader.recognizer.model import load_model

    rec = load_model(path, screen=screen)

    def run(x: np.ndarray) -> np.ndarray:
        return rec.probabilities(x)

    run.backend = rec.backend + ("+screen" if rec.screen is not None else "")  # type: ignore[attr-defined]
    if rec.screen is not None:
        screen_rec = rec.screen
        run.sent_on = lambda x: float((screen_rec.probabilities(x).max(1) < rec.screen_confidence).mean())  # type: ignore[attr-defined]
    return run


# --- measurement ------------------------------------------------------------------------------


def rate(forward: Forward, x: np.ndarray, seconds: float) -> float:
    """Digits per second for repeated calls on batch ``x`` (after one warm-up call)."""
    forward(x)
    calls, start = 0, time.perf_counter()
    while True:
        forward(x)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and calls >= 3:
            return len(x) * calls / elapsed


def main() -> None:
    names = ["keras-predict", "keras-call", "tf-function", "tf-xla", "onnx", "onnx-int8",
             "litert", "litert-dynamic", "litert-float16", "litert-int8", "recognizer", "recognizer-full"]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "digits.keras")
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    ap.add_argument("--backends", nargs="+", default=names, choices=names, metavar="NAME",
                    help="any of: " + ", ".join(names))
    ap.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    ap.add_argument("--seconds", type=float, default=1.5, help="timing per (backend, batch)")
    ap.add_argument("--check", type=int, default=10000, help="MNIST test digits compared with Keras")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()

    from formreader.recognizer.model import load_keras_model
    from formreader.training.data import load_mnist

    data = load_mnist(args.mnist)
    x_test = np.ascontiguousarray(data.x_test[: args.check], np.float32) / np.float32(255.0)
    calibration = np.ascontiguousarray(data.x_train[:3000], np.float32) / np.float32(255.0)
    model = load_keras_model(args.model)
    reference = np.concatenate([np.asarray(model(x_test[i : i + 500, ..., None], training=False))
                                for i in range(0, len(x_test), 500)])
    macs = macs_per_digit(model)
    peak = sgemm_gflops()
    factories: dict[str, Callable[[], Forward]] = {
        "keras-predict": lambda: keras_predict(model),
        "keras-call": lambda: keras_call(model),
        "tf-function": lambda: tf_function(model),
        "tf-xla": lambda: tf_function(model, xla=True),
        "onnx": lambda: onnx_fp32(model),
        "onnx-int8": lambda: onnx_int8(model, calibration),
        "litert": lambda: litert(model, None, calibration),
        "litert-dynamic": lambda: litert(model, "dynamic", calibration),
        "litert-float16": lambda: litert(model, "float16", calibration),
        "litert-int8": lambda: litert(model, "int8", calibration),
        "recognizer": lambda: recognizer(args.model),
        "recognizer-full": lambda: recognizer(args.model, screen=False),
    }
    results: list[dict[str, Any]] = []
    for name in args.backends:
        row: dict[str, Any] = {"backend": name}
        try:
            start = time.perf_counter()
            with stdout_to_stderr():  # converters print to stdout; --json owns it
                forward = factories[name]()
            row["setup_s"] = round(time.perf_counter() - start, 2)
            if hasattr(forward, "backend"):
                row["engine"] = forward.backend
            probs = forward(x_test) if name.startswith("recognizer") else chunked(forward)(x_test)
            row["argmax_mismatches"] = int((probs.argmax(1) != reference.argmax(1)).sum())
            row["max_prob_diff"] = float(np.max(np.abs(probs - reference)))
            row["acceptable"] = row["argmax_mismatches"] == 0
            if hasattr(forward, "sent_on"):  # share of the checked digits the screen passes on
                row["sent_to_full_model"] = round(forward.sent_on(x_test), 4)
            row["digits_per_s"] = {}
            for b in args.batches:
                x = np.ascontiguousarray(x_test[np.arange(b) % len(x_test)])
                row["digits_per_s"][str(b)] = round(rate(forward, x, args.seconds), 1)
            best = max(row["digits_per_s"].values())
            row["best_gflops"] = round(best * 2 * macs / 1e9, 1)
            row["share_of_sgemm_peak"] = round(best * 2 * macs / 1e9 / peak, 3)
        except Exception as exc:  # one backend failing must not hide the others' figures
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        results.append(row)
        if not args.json:
            print(_line(row, args.batches), flush=True)

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "model": str(args.model),
        "macs_per_digit": macs,
        "sgemm_gflops": round(peak, 1),
        "target_digits_per_s_at_256": 20000,
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"\n{macs / 1e6:.1f} M multiply-adds per digit; numpy SGEMM floor {peak:.0f} GFLOP/s "
              f"(= {peak * 1e9 / (2 * macs):,.0f} digits/s if a backend reached it)")


def _line(row: dict[str, Any], batches: list[int]) -> str:
    if "error" in row:
        return f"{row['backend']:15s} ERROR {row['error']}"
    rates = "  ".join(f"b{b}={row['digits_per_s'][str(b)]:>8,.0f}" for b in batches)
    return (f"{row['backend']:15s} {rates}  /s  mismatches={row['argmax_mismatches']:<3d} "
            f"maxdiff={row['max_prob_diff']:.1e}  {row['best_gflops']:.0f} GFLOP/s "
            f"({row['share_of_sgemm_peak']:.0%} of SGEMM)  setup {row['setup_s']}s"
            + (f"  sent on {row['sent_to_full_model']:.1%}" if "sent_to_full_model" in row else ""))


if __name__ == "__main__":
    main()
