"""Train the string reader: a convolutional CTC network on synthetic MNIST strings.

The network (:func:`build_string_model`) reads a :data:`~formreader.training.string_synth.HEIGHT`-row
image of any width: convolutions and pooling bring the rows down to one, two wide convolutions
along the line give each column a view of its neighbours (about three digits wide), and a 1x1
convolution scores every class (blank, digits, separators) per column of four pixels. No
recurrent layer: it exports to plain ONNX convolutions (:func:`string_model_to_onnx`), and
columns far apart do not need each other to tell a digit.

Trained on strings drawn by :class:`~formreader.training.string_synth.StringWriter` from the MNIST
training digits; checked on strings drawn from the MNIST test digits with another seed. Needs
TensorFlow; reading with the result needs only ONNX Runtime.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from formreader.recognizer.infer import _bn_scale_shift, _Graph
from formreader.recognizer.strings import ALPHABET, HEIGHT, STRIDE
from formreader.training.data import Mnist
from formreader.training.string_synth import StringWriter, batch, batches

CLASSES = len(ALPHABET) + 1  # + the CTC blank, class 0


@dataclass
class StringTrainConfig:
    steps: int = 12000
    batch: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    eval_size: int = 1000
    width: int = 352
    squeezed: float = 0.0  # share of cramped strings (StringWriter)
    init: str | None = None  # start from this .keras string model (fine-tune) instead of scratch


def build_string_model() -> Any:
    """The string reader's network (see the module docstring); ~0.5M weights."""
    import keras
    from keras import layers

    def conv(x: Any, filters: int, size: tuple[int, int], padding: str = "same") -> Any:
        x = layers.Conv2D(filters, size, padding=padding, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input(shape=(HEIGHT, None, 1), name="strip")
    x = conv(inputs, 32, (3, 3))
    x = layers.MaxPooling2D((2, 2))(x)
    x = conv(x, 64, (3, 3))
    x = layers.MaxPooling2D((2, 2))(x)
    x = conv(x, 96, (3, 3))
    x = conv(x, 96, (3, 3))
    x = layers.MaxPooling2D((2, 1))(x)
    x = conv(x, 128, (3, 3))
    x = layers.MaxPooling2D((2, 1))(x)
    x = conv(x, 128, (2, 1), padding="valid")
    x = conv(x, 128, (1, 5))
    x = conv(x, 128, (1, 5))
    x = layers.Dropout(0.2)(x)
    logits = layers.Conv2D(CLASSES, (1, 1), name="logits")(x)
    return keras.Model(inputs, logits, name="formreader_strings")


def string_model_to_onnx(model: Any) -> bytes:
    """ONNX graph of :func:`build_string_model`: input ``x`` (N, HEIGHT, W) ink 0..1, output
    ``probs`` (N, W // STRIDE, CLASSES) softmax per column. Batch norm is folded into the
    convolution before it."""
    from onnx import TensorProto, helper

    g = _Graph()
    x = g.node("Unsqueeze", ["x", g.const("axis1", np.array([1], np.int64))])
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    i = 0
    while i < len(layers):
        layer = layers[i]
        kind = type(layer).__name__
        if kind == "Conv2D":
            kernel = np.asarray(layer.kernel, np.float64)
            kh, kw, _, cout = kernel.shape
            bias = np.asarray(layer.bias, np.float64) if layer.use_bias else np.zeros(cout)
            if i + 1 < len(layers) and type(layers[i + 1]).__name__ == "BatchNormalization":
                scale, shift = _bn_scale_shift(layers[i + 1])
                kernel, bias = kernel * scale, bias * scale + shift
                i += 1
            pads = [0, 0, 0, 0] if layer.padding == "valid" else [(kh - 1) // 2, (kw - 1) // 2, kh // 2, kw // 2]
            x = g.node("Conv", [x, g.const(f"w{i}", kernel.transpose(3, 2, 0, 1).astype(np.float32)),
                                g.const(f"b{i}", bias.astype(np.float32))],
                       kernel_shape=[kh, kw], pads=pads)
        elif kind == "ReLU":
            x = g.node("Relu", [x])
        elif kind == "MaxPooling2D":
            x = g.node("MaxPool", [x], kernel_shape=list(layer.pool_size), strides=list(layer.strides))
        elif kind != "Dropout":
            raise ValueError(f"{layer.name}: layer type {kind} is not in the string reader")
        i += 1
    x = g.node("Squeeze", [x, g.const("axis2", np.array([2], np.int64))])  # (N, C, T)
    x = g.node("Transpose", [x], perm=[0, 2, 1])
    g.nodes.append(helper.make_node("Softmax", [x], ["probs"], axis=-1, name="output"))
    graph = helper.make_graph(
        g.nodes, "formreader_strings",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", HEIGHT, "w"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", "t", CLASSES])],
        g.inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="formreader")
    onnx_model.ir_version = 8
    return onnx_model.SerializeToString()


def ctc_step(model: Any, opt: Any) -> Any:
    """One CTC training step of ``model`` with ``opt`` on (images (N, HEIGHT, W), dense labels,
    label lengths), compiled once for any batch size and width; returns the mean loss."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, HEIGHT, None], tf.float32),
                                  tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)])
    def step(x: Any, y: Any, lengths: Any) -> Any:
        with tf.GradientTape() as tape:
            logits = model(x[..., None], training=True)[:, 0]  # (N, T, C)
            t = tf.fill([tf.shape(logits)[0]], tf.shape(logits)[1])
            loss = tf.reduce_mean(tf.nn.ctc_loss(y, logits, lengths, t, logits_time_major=False, blank_index=0))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    return step


def _exact(decoded: list[str], texts: list[str]) -> float:
    return float(np.mean([a == b for a, b in zip(decoded, texts)]))


def train_strings(data: Mnist, out: Path, cfg: StringTrainConfig, log: Any = print) -> dict[str, Any]:
    """Train, export and write ``out`` (.onnx), ``out.with_suffix('.keras')`` and a model card
    (``.json``). Returns the card.

    Kept in one piece: a training run is one story told in order (generator, model, fit,
    evaluate, export, card)."""
    import tensorflow as tf

    from formreader.recognizer.strings import decode_best_path

    tf.keras.utils.set_random_seed(cfg.seed)
    import keras

    model = keras.saving.load_model(cfg.init, compile=False) if cfg.init else build_string_model()
    opt = tf.keras.optimizers.Adam(cfg.learning_rate)
    writer = StringWriter(data.x_train, data.y_train, seed=cfg.seed, width=cfg.width, squeezed=cfg.squeezed)
    check = StringWriter(data.x_test, data.y_test, seed=cfg.seed + 1000, width=cfg.width)
    xe, _, _, te = batch(check, cfg.eval_size)

    step = ctc_step(model, opt)

    def evaluate() -> float:
        probs = np.concatenate([tf.nn.softmax(model(xe[i : i + 100, ..., None], training=False)[:, 0]).numpy()
                                for i in range(0, len(xe), 100)])
        return _exact([decode_best_path(p)[0] for p in probs], te)

    started = time.time()
    losses: list[float] = []
    history = []
    queue: list[Any] = []
    for k in range(1, cfg.steps + 1):
        if k == int(cfg.steps * 0.7) or k == int(cfg.steps * 0.9):
            opt.learning_rate.assign(float(opt.learning_rate) * 0.3)
        if not queue:
            queue = batches(writer, cfg.batch, 8)
            order = writer.rng.permutation(len(queue))
            queue = [queue[j] for j in order]
        x, y, lengths, _ = queue.pop()
        losses.append(float(step(tf.constant(x), tf.constant(y), tf.constant(lengths))))
        if k % 500 == 0 or k == cfg.steps:
            acc = evaluate() if k % 2000 == 0 or k == cfg.steps else float("nan")
            elapsed = time.time() - started
            history.append({"step": k, "loss": float(np.mean(losses[-500:])), "exact": acc, "seconds": elapsed})
            log(f"step {k}/{cfg.steps} loss {np.mean(losses[-500:]):.3f} exact {acc:.3f} "
                f"{elapsed:.0f} s (eta {elapsed / k * (cfg.steps - k):.0f} s)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out.with_suffix(".keras"))
    blob = string_model_to_onnx(model)
    out.write_bytes(blob)
    card = {
        "config": asdict(cfg),
        "alphabet": ALPHABET,
        "height": HEIGHT,
        "stride": STRIDE,
        "weights": int(model.count_params()),
        "synthetic_test_exact": history[-1]["exact"],
        "synthetic_test_strings": cfg.eval_size,
        "training_seconds": round(time.time() - started, 1),
        "history": history,
        "mnist_sha256": data.sha256,
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return card


def check_strings(data: Mnist, model: Path, cfg: StringTrainConfig = StringTrainConfig()) -> float:
    """The share of the training run's check strings (MNIST test digits, seed ``cfg.seed + 1000``)
    that the ONNX model at ``model`` reads exactly, best path, as the run measures it."""
    from formreader.recognizer.strings import StringReader, decode_best_path

    reader = StringReader(Path(model))
    x, _, _, texts = batch(StringWriter(data.x_test, data.y_test, seed=cfg.seed + 1000, width=cfg.width), cfg.eval_size)
    return _exact([decode_best_path(reader.posteriors(img))[0] for img in x], texts)


def main(argv: list[str] | None = None) -> int:
    """``python -m formreader.training.train_strings --out models/strings.onnx``: the shipped string model."""
    import argparse

    from formreader.training.data import load_mnist

    parser = argparse.ArgumentParser(prog="python -m formreader.training.train_strings", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True, help="ONNX file to write (.keras and .json beside it)")
    parser.add_argument("--mnist", default=None, help="folder of the MNIST IDX files (default $FORMREADER_MNIST)")
    parser.add_argument("--steps", type=int, default=StringTrainConfig.steps)
    parser.add_argument("--batch", type=int, default=StringTrainConfig.batch)
    parser.add_argument("--seed", type=int, default=StringTrainConfig.seed)
    parser.add_argument("--learning-rate", type=float, default=StringTrainConfig.learning_rate)
    parser.add_argument("--squeezed", type=float, default=StringTrainConfig.squeezed,
                        help="share of strings written cramped, digits run into each other")
    parser.add_argument("--init", default=None, help="fine-tune this .keras string model instead of starting afresh")
    parser.add_argument("--check", action="store_true",
                        help="only read the model card's synthetic test strings with the ONNX file --out and print the share exact")
    args = parser.parse_args(argv)
    if args.check:
        exact = check_strings(load_mnist(args.mnist), args.out)
        print(f"{args.out}: {exact:.1%} of {StringTrainConfig.eval_size} synthetic test strings exact")
        return 0
    cfg = StringTrainConfig(steps=args.steps, batch=args.batch, seed=args.seed, learning_rate=args.learning_rate,
                            squeezed=args.squeezed, init=args.init)
    card = train_strings(load_mnist(args.mnist), args.out, cfg, log=lambda s: print(s, flush=True))
    print(f"wrote {args.out}: {card['synthetic_test_exact']:.1%} of {cfg.eval_size} synthetic test strings exact")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
