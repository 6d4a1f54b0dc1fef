"""Inference backends for the digit CNN: the same network, run by the fastest engine that agrees.

Why not Keras at run time: ``keras.Model.predict`` costs tens of milliseconds per call, and even a
``tf.function`` goes through TensorFlow's executor for every one of the network's ~25 ops. The
scanner sends one batch of a few hundred crops per page, so per-call overhead and per-op
dispatch are a large share of the page. ONNX Runtime runs the same arithmetic with batch norm
folded into the convolutions (7 fused conv+relu kernels, one dense, one softmax) in one native
call.

The ONNX graph is written here, straight from the Keras layers' weights, for the layer types the
shipped architecture uses (Conv2D, BatchNormalization, ReLU, Dropout, Flatten, Dense). A model
with any other layer, or whose exported graph disagrees with Keras on a fixed probe batch, runs
through a ``tf.function`` instead: correctness never depends on the exporter knowing a layer.

Select a backend with ``$FORMREADER_BACKEND`` (``auto``, ``onnx`` or ``tf``); ``auto`` is ONNX
Runtime when it is installed and the model exports, else TensorFlow.

Start-up: importing TensorFlow to read the ``.keras`` file costs seconds per process (over ten on a
busy 2-core machine), and every batch worker pays it. So a successful export is cached under
``$FORMREADER_CACHE`` (default ``~/.cache/formreader``), keyed by the SHA-256 of the model file's
bytes and the exporter's version: later processes load the ONNX graph without importing
TensorFlow at all. Same file, same graph, same results.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from formreader.recognizer.threads import thread_count

if TYPE_CHECKING:  # pragma: no cover
    import keras

BACKEND_ENV = "FORMREADER_BACKEND"
BACKENDS = ("auto", "onnx", "tf")
CACHE_ENV = "FORMREADER_CACHE"
EXPORT_VERSION = 3  # bump whenever keras_to_onnx changes what it writes
# The exported graph must reproduce Keras to this tolerance on the probe batch, else it is not
# used. Folding batch norm changes rounding only: measured differences are ~1e-6.
PROBE_TOLERANCE = 1e-4

Forward = Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) float32 -> (N, classes) float32


class UnsupportedModel(Exception):
    """The model has a layer or topology the ONNX exporter does not handle."""


# --- Keras -> ONNX ----------------------------------------------------------------------------


def _chain(model: "keras.Model") -> list[Any]:
    """The model's layers (input layer excluded) if they form a single chain, else raise."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if not layers:
        raise UnsupportedModel("model has no layers")
    previous = model.inputs[0]
    for layer in layers:
        if layer.input is not previous:
            raise UnsupportedModel(f"layer {layer.name} is not fed by the layer before it")
        previous = layer.output
    if previous is not model.outputs[0]:
        raise UnsupportedModel("the last layer is not the model's output")
    return layers


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (the extra pixel goes after, like ONNX SAME_UPPER)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class _Graph:
    """A growing ONNX graph: named initializers and nodes, one running tensor name."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import helper

        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self.count}", **attrs))
        return out


def _activation(g: _Graph, x: str, name: str) -> str:
    if name == "linear":
        return x
    if name == "relu":
        return g.node("Relu", [x])
    if name == "softmax":
        return g.node("Softmax", [x], axis=-1)
    raise UnsupportedModel(f"activation {name}")


def _bn_scale_shift(layer: Any) -> tuple[np.ndarray, np.ndarray]:
    """Batch norm at inference as y = x * scale + shift, in float64 for the folding."""
    mean = np.asarray(layer.moving_mean, np.float64)
    var = np.asarray(layer.moving_variance, np.float64)
    gamma = np.asarray(layer.gamma, np.float64) if layer.gamma is not None else np.ones_like(mean)
    beta = np.asarray(layer.beta, np.float64) if layer.beta is not None else np.zeros_like(mean)
    scale = gamma / np.sqrt(var + float(layer.epsilon))
    return scale, beta - mean * scale


def _flattened_next(layers: list[Any], start: int) -> bool:
    """Whether the map from ``layers[start - 1]`` only goes through element-wise layers (its
    batch norm, activations, dropout) into a Flatten: then it may be collapsed to (N, C) early."""
    for layer in layers[start:]:
        kind = type(layer).__name__
        if kind == "Flatten":
            return True
        if kind not in ("BatchNormalization", "Activation", "ReLU", "Dropout"):
            return False
    return False


def keras_to_onnx(model: "keras.Model") -> bytes:
    """Serialized ONNX model equivalent to ``model(x, training=False)`` for x of shape (N, 28, 28).

    Works in NCHW (ONNX's layout); the input's single channel makes (N, 28, 28) -> (N, 1, 28, 28)
    a reshape. Batch norm directly after a convolution is folded into its weights and bias.
    Raises UnsupportedModel for anything else than a chain of the supported layers.

    Kept in one piece: one pass over the network's layers, each mapped to its ONNX nodes where
    it is read.
    """
    from onnx import TensorProto, helper

    layers = _chain(model)
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or shape[2] != 1 or None in shape:
        raise UnsupportedModel(f"input shape {shape}")
    h, w, c = (int(v) for v in shape)
    g = _Graph()
    x = g.node("Reshape", ["x", g.const("in_shape", np.array([-1, 1, h, w], np.int64))])
    nchw = True  # False once flattened
    i = 0
    while i < len(layers):
        layer = layers[i]
        kind = type(layer).__name__
        if kind == "Conv2D":
            if not nchw or layer.data_format != "channels_last" or layer.groups != 1:
                raise UnsupportedModel(f"{layer.name}: conv layout")
            kernel = np.asarray(layer.kernel, np.float64)  # (kh, kw, cin, cout)
            kh, kw, _, cout = kernel.shape
            bias = np.asarray(layer.bias, np.float64) if layer.use_bias else np.zeros(cout)
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            if nxt is not None and type(nxt).__name__ == "BatchNormalization" and layer.activation.__name__ == "linear":
                if nxt.axis not in (-1, 3, [3], [-1]):
                    raise UnsupportedModel(f"{nxt.name}: batch norm axis {nxt.axis}")
                scale, shift = _bn_scale_shift(nxt)
                kernel = kernel * scale
                bias = bias * scale + shift
                i += 1
            (sh, sw), (dh, dw) = layer.strides, layer.dilation_rate
            if layer.padding == "valid":
                pads = [0, 0, 0, 0]
            elif layer.padding == "same":
                top, bottom = _same_pads(h, kh, sh, dh)
                left, right = _same_pads(w, kw, sw, dw)
                pads = [top, left, bottom, right]
            else:
                raise UnsupportedModel(f"{layer.name}: padding {layer.padding}")
            if (pads == [0, 0, 0, 0] and (kh, kw) == (h, w) and (sh, sw) == (dh, dw) == (1, 1)
                    and _flattened_next(layers, i + 1)):
                # A kernel the size of its whole input is a dense layer on the flattened map.
                # As a Conv, ONNX Runtime ran it at a fifth of the speed of the other layers
                # (the screen's last conv: 15% of its time); as a Gemm it is one matrix product.
                flat = g.node("Flatten", [x], axis=1)  # NCHW order: (c, y, x)
                weight = g.const(f"w{i}", kernel.transpose(2, 0, 1, 3).reshape(-1, cout).astype(np.float32))
                x = g.node("Gemm", [flat, weight, g.const(f"b{i}", bias.astype(np.float32))])
                nchw = False  # (N, cout): a 1 x 1 map, already in Keras's flattened order
            else:
                weight = g.const(f"w{i}", kernel.transpose(3, 2, 0, 1).astype(np.float32))
                x = g.node("Conv", [x, weight, g.const(f"b{i}", bias.astype(np.float32))],
                           kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw], pads=pads)
            x = _activation(g, x, layer.activation.__name__)
            h = (h + pads[0] + pads[2] - (kh - 1) * dh - 1) // sh + 1
            w = (w + pads[1] + pads[3] - (kw - 1) * dw - 1) // sw + 1
        elif kind == "BatchNormalization":
            raise UnsupportedModel(f"{layer.name}: batch norm not after a convolution")
        elif kind == "Activation":
            x = _activation(g, x, layer.activation.__name__)
        elif kind == "ReLU":
            if layer.max_value is not None or float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
                raise UnsupportedModel(f"{layer.name}: parametrised ReLU")
            x = g.node("Relu", [x])
        elif kind == "Dropout":
            pass  # identity at inference
        elif kind == "Flatten":
            if nchw:  # Keras flattens in (h, w, c) order
                x = g.node("Transpose", [x], perm=[0, 2, 3, 1])
            x = g.node("Flatten", [x], axis=1)  # a no-op on a map a whole-input conv collapsed
            nchw = False
        elif kind == "Dense":
            if nchw:
                raise UnsupportedModel(f"{layer.name}: dense on a feature map")
            kernel = np.asarray(layer.kernel, np.float32)
            x = g.node("Gemm", [x, g.const(f"w{i}", kernel),
                                g.const(f"b{i}", np.asarray(layer.bias, np.float32) if layer.use_bias
                                        else np.zeros(kernel.shape[1], np.float32))])
            x = _activation(g, x, layer.activation.__name__)
        else:
            raise UnsupportedModel(f"{layer.name}: layer type {kind}")
        i += 1
    if nchw:
        raise UnsupportedModel("output is a feature map")
    classes = int(model.output_shape[-1])
    g.nodes.append(helper.make_node("Identity", [x], ["probs"], name="output"))
    graph = helper.make_graph(
        g.nodes, "formreader_digits",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", int(shape[0]), int(shape[1])])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", classes])],
        g.inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                   producer_name="formreader")
    onnx_model.ir_version = 8  # readable by every onnxruntime >= 1.14
    return onnx_model.SerializeToString()


# --- backends ---------------------------------------------------------------------------------


def onnx_session_forward(blob: bytes, threads: int | None = None) -> Forward:
    """ONNX Runtime session for a serialized model with input ``x`` and output ``probs``."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or thread_count()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Idle pool threads must not spin: between two pages' batches the cores belong to the
    # image stages (and to the other workers).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    session = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])

    def forward(x: np.ndarray) -> np.ndarray:
        return session.run(None, {"x": x})[0]

    forward.backend = "onnx"  # type: ignore[attr-defined]
    forward.onnx = blob  # type: ignore[attr-defined]
    forward.meta = dict(session.get_modelmeta().custom_metadata_map)  # type: ignore[attr-defined]
    return forward


def onnx_forward(model: "keras.Model", threads: int | None = None) -> Forward:
    """ONNX Runtime session for the exported model. Raises ImportError or UnsupportedModel."""
    import onnxruntime  # noqa: F401  - fail before exporting if it is not installed

    return onnx_session_forward(keras_to_onnx(model), threads)


def tf_forward(model: "keras.Model") -> Forward:
    """``model(x, training=False)`` as a ``tf.function`` with one fixed signature."""
    import tensorflow as tf

    fn = tf.function(lambda x: model(x[..., None], training=False),
                     input_signature=[tf.TensorSpec([None, 28, 28], tf.float32)])

    def forward(x: np.ndarray) -> np.ndarray:
        return fn(x).numpy()

    forward.backend = "tf"  # type: ignore[attr-defined]
    return forward


def _probe() -> np.ndarray:
    """A fixed batch that exercises every weight: noise, blank, solid and a few strokes."""
    rng = np.random.default_rng(0)
    x = rng.random((16, 28, 28), dtype=np.float32)
    x[0] = 0.0
    x[1] = 1.0
    x[2:6] *= x[2:6] > 0.7
    return x


def make_forward(model: "keras.Model", backend: str | None = None) -> Forward:
    """The forward pass for ``model`` by ``backend`` (default ``$FORMREADER_BACKEND`` or auto).

    ``auto`` uses ONNX Runtime when it is installed, the model exports and the export matches
    Keras on the probe batch; otherwise TensorFlow. Asking for ``onnx`` explicitly makes any
    of those failures an error instead.
    """
    backend = (backend or os.environ.get(BACKEND_ENV) or "auto").lower()
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (expected one of {', '.join(BACKENDS)})")
    if backend == "tf":
        return tf_forward(model)
    try:
        forward = onnx_forward(model)
        probe = _probe()
        expected = np.asarray(model(probe[..., None], training=False))
        error = float(np.max(np.abs(forward(probe) - expected)))
        if not error <= PROBE_TOLERANCE:
            raise UnsupportedModel(f"ONNX export differs from Keras by {error:.2g} on the probe batch")
        return forward
    except (ImportError, UnsupportedModel):
        if backend == "onnx":
            raise
        return tf_forward(model)


# --- export cache -----------------------------------------------------------------------------


def requested_backend() -> str:
    return (os.environ.get(BACKEND_ENV) or "auto").lower()


def cache_path(model_path: str | os.PathLike[str]) -> Path:
    """Where the export of this model file lives: keyed by its bytes, not its name or mtime."""
    digest = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()[:32]
    root = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "formreader")
    return Path(root) / f"digits-{digest}-v{EXPORT_VERSION}.onnx"


def cached_forward(model_path: str | os.PathLike[str]) -> Forward | None:
    """The ONNX forward pass from the cache, without TensorFlow; None on any miss."""
    if requested_backend() not in ("auto", "onnx"):
        return None
    try:
        blob = cache_path(model_path).read_bytes()
        return onnx_session_forward(blob)
    except Exception:  # no entry, unreadable, onnxruntime missing or the entry is damaged
        return None


def store_export(model_path: str | os.PathLike[str], forward: Forward) -> None:
    """Best effort: write the forward pass's ONNX graph to the cache (atomically)."""
    blob = getattr(forward, "onnx", None)
    if blob is None:
        return
    try:
        target = cache_path(model_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        os.replace(tmp, target)
    except OSError:  # read-only home, full disk: the next process exports again
        pass


# --- the export shipped beside a .keras file ---------------------------------------------------

SOURCE_KEY = "formreader_keras_sha256"  # ONNX metadata: the .keras file this export was made from


def file_digest(path: str | os.PathLike[str]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_beside(model_path: str | os.PathLike[str], model: "keras.Model") -> Path:
    """Write ``X.onnx`` beside ``X.keras``: the export reading uses, tagged with the hash of the
    Keras file it was made from, so that an install without TensorFlow reads the same digits.
    Raises UnsupportedModel for a network the exporter does not know."""
    import onnx

    graph = onnx.load_from_string(keras_to_onnx(model))
    entry = graph.metadata_props.add()
    entry.key, entry.value = SOURCE_KEY, file_digest(model_path)
    target = Path(model_path).with_suffix(".onnx")
    target.write_bytes(graph.SerializeToString())
    return target


def beside_forward(model_path: str | os.PathLike[str]) -> Forward | None:
    """The ONNX export beside a ``.keras`` file, if it was made from these very bytes (else None:
    a stale export is never read in place of the model it no longer matches)."""
    onnx_path = Path(model_path).with_suffix(".onnx")
    if requested_backend() not in ("auto", "onnx") or not onnx_path.is_file():
        return None
    try:
        forward = onnx_session_forward(onnx_path.read_bytes())
    except Exception:  # unreadable, or onnxruntime missing
        return None
    if Path(model_path).is_file() and forward.meta.get(SOURCE_KEY) != file_digest(model_path):  # type: ignore[attr-defined]
        return None
    return forward
