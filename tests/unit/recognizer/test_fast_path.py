"""The fast inference path must read exactly what the Keras model reads.

The scanner classifies through :class:`formreader.recognizer.model.Recognizer`, which runs the network on
ONNX Runtime when the export reproduces Keras (``formreader.recognizer.infer``). Here the whole MNIST test
set goes through both: identical argmax on all 10,000 digits and probabilities within 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SHIPPED_MODEL

pytestmark = pytest.mark.slow  # seconds each: `pytest -m "not slow"` skips them while iterating

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def keras_model():
    if not SHIPPED_MODEL.exists():
        pytest.skip(f"{SHIPPED_MODEL} not trained yet")
    from formreader.recognizer.model import load_keras_model

    return load_keras_model(SHIPPED_MODEL)


@pytest.fixture(scope="module")
def keras_probs(keras_model, mnist) -> np.ndarray:
    x = mnist.x_test.astype(np.float32) / np.float32(255.0)
    return np.concatenate([np.asarray(keras_model(x[i : i + 1000, ..., None], training=False))
                           for i in range(0, len(x), 1000)])


@pytest.fixture(scope="module")
def full_recognizer():
    from formreader.recognizer.model import load_model

    return load_model(SHIPPED_MODEL, screen=False)


def test_recognizer_matches_keras_on_mnist_test(full_recognizer, mnist, keras_probs):
    probs = full_recognizer.probabilities(mnist.x_test.astype(np.float32) / np.float32(255.0))
    assert probs.shape == (10000, 11) and probs.dtype == np.float32
    assert int((probs.argmax(1) != keras_probs.argmax(1)).sum()) == 0
    assert float(np.abs(probs - keras_probs).max()) <= TOLERANCE


def test_shipped_model_uses_the_fast_path(recognizer):
    pytest.importorskip("onnxruntime")
    assert recognizer.backend == "onnx"
    assert recognizer.screen is not None and recognizer.screen.backend == "onnx"


def test_onnx_export_matches_keras_on_odd_inputs(keras_model):
    """Blank, saturated, noise and batch sizes that are not a multiple of anything."""
    pytest.importorskip("onnxruntime")
    from formreader.recognizer.infer import onnx_forward

    forward = onnx_forward(keras_model)
    rng = np.random.default_rng(3)
    for n in (1, 7, 300):
        x = rng.random((n, 28, 28), dtype=np.float32)
        x[0] = 0.0 if n > 1 else 1.0
        expected = np.asarray(keras_model(x[..., None], training=False))
        got = forward(x)
        assert got.shape == (n, 11)
        np.testing.assert_array_equal(got.argmax(1), expected.argmax(1))
        np.testing.assert_allclose(got, expected, atol=TOLERANCE)


def _random_bn(model, seed: int) -> None:
    """Batch-norm statistics far from the identity, so that a wrong folding shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            n = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 2.0, n), rng.normal(0, 0.5, n), rng.normal(0, 0.5, n),
                               rng.uniform(0.2, 3.0, n)])


@pytest.mark.parametrize("then_conv", [False, True])
def test_whole_input_conv_becomes_a_matrix_product(then_conv):
    """A conv whose kernel covers its whole input map (the last conv of both shipped networks)
    and that leads straight to the Flatten is exported as Flatten + Gemm, in Keras's flattening
    order; one followed by another conv stays a Conv. Either way the export reads as Keras
    does."""
    pytest.importorskip("onnxruntime")
    import keras
    import onnx

    from formreader.recognizer.infer import keras_to_onnx, onnx_session_forward

    keras.utils.set_random_seed(5)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", use_bias=False)(inputs)  # 14 x 14
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(8, 14, use_bias=False)(x)  # covers the whole map: 1 x 1 x 8
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    if then_conv:
        x = keras.layers.Conv2D(5, 1, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(11, activation="softmax")(x))
    _random_bn(model, 6)

    blob = keras_to_onnx(model)
    ops = [node.op_type for node in onnx.load_from_string(blob).graph.node]
    # With a 1 x 1 conv after it, that one is the whole-input conv before the Flatten.
    assert ops.count("Conv") == (2 if then_conv else 1)
    assert ops.count("Gemm") == 2
    x = np.random.default_rng(7).random((33, 28, 28), dtype=np.float32)
    expected = np.asarray(model(x[..., None], training=False))
    np.testing.assert_allclose(onnx_session_forward(blob)(x), expected, atol=TOLERANCE)


def test_tf_backend_is_the_same_reading(keras_model, mnist, keras_probs):
    from formreader.recognizer.infer import tf_forward

    x = mnist.x_test[:500].astype(np.float32) / np.float32(255.0)
    np.testing.assert_allclose(tf_forward(keras_model)(x), keras_probs[:500], atol=TOLERANCE)


def test_unsupported_layers_fall_back_to_tensorflow():
    pytest.importorskip("onnxruntime")
    import keras

    from formreader.recognizer.infer import UnsupportedModel, keras_to_onnx, make_forward

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.MaxPooling2D()(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(11, activation="softmax")(x))
    with pytest.raises(UnsupportedModel):
        keras_to_onnx(model)
    forward = make_forward(model, "auto")
    assert forward.backend == "tf"
    x = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(forward(x), np.asarray(model(x[..., None], training=False)), atol=TOLERANCE)


def _load_in_a_new_process(model: Path, cache: Path) -> list[str]:
    import os
    import subprocess
    import sys

    code = ("import sys, numpy as np; from formreader.recognizer.model import load_model; "
            f"r = load_model({str(model)!r}); "
            "p = r.probabilities(np.linspace(0, 1, 3 * 784, dtype=np.float32).reshape(3, 28, 28)); "
            "print(r.backend, 'tensorflow' in sys.modules, repr(p.tobytes().hex()))")
    env = dict(os.environ, FORMREADER_CACHE=str(cache), FORMREADER_BACKEND="auto")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_the_shipped_models_read_without_tensorflow(tmp_path):
    """The exports shipped beside the models: no TensorFlow import, nothing cached, and the same
    probabilities as an export made from the Keras file here."""
    pytest.importorskip("onnxruntime")
    import shutil

    shipped = _load_in_a_new_process(SHIPPED_MODEL, tmp_path / "cache")
    assert shipped[:2] == ["onnx", "False"] and not (tmp_path / "cache").exists()
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("digits", "digits-fast", "digits-second"):  # the Keras files without their exports
        shutil.copy(SHIPPED_MODEL.with_name(f"{name}.keras"), alone / f"{name}.keras")
    cold = _load_in_a_new_process(alone / SHIPPED_MODEL.name, tmp_path / "cache")
    warm = _load_in_a_new_process(alone / SHIPPED_MODEL.name, tmp_path / "cache")
    assert cold[:2] == ["onnx", "True"]  # exported from Keras
    assert len(list((tmp_path / "cache").glob("*.onnx"))) == 3  # the model, its screen and second network
    assert warm[:2] == ["onnx", "False"]  # straight from this machine's cache
    assert shipped[2] == cold[2] == warm[2]  # bit-identical probabilities


def test_an_export_made_from_other_weights_is_not_read(tmp_path):
    pytest.importorskip("onnxruntime")
    import shutil

    shutil.copy(SHIPPED_MODEL, tmp_path / "mine.keras")
    shutil.copy(SHIPPED_MODEL.with_name("digits-fast.onnx"), tmp_path / "mine.onnx")  # a stale export
    from formreader.recognizer.infer import beside_forward

    assert beside_forward(SHIPPED_MODEL) is not None
    assert beside_forward(tmp_path / "mine.keras") is None


def test_cache_is_keyed_by_the_model_bytes(tmp_path, monkeypatch):
    from formreader.recognizer.infer import cache_path

    monkeypatch.setenv("FORMREADER_CACHE", str(tmp_path))
    a, b = tmp_path / "a.keras", tmp_path / "b.keras"
    a.write_bytes(b"one")
    b.write_bytes(b"one")
    assert cache_path(a) == cache_path(b)
    b.write_bytes(b"two")
    assert cache_path(a) != cache_path(b)
