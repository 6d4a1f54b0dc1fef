"""The digit CNN: its definition, loading the shipped model, and batched classification.

The network has 11 outputs: the digits 0-9 and a *reject* class for marks that are not digits
(dots, dashes, box-line fragments, half digits, two digits stuck together, letters). The
segmenter relies on that class to drop punctuation and to choose where to split touching
digits, so it is part of the model rather than a threshold bolted on later.

TensorFlow is imported inside functions only: ``formreader --help`` must start fast.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from formreader.errors import ModelError
from formreader.recognizer.shipped import default_model_path
from formreader.recognizer.strings import PICK_MARGIN

if TYPE_CHECKING:  # pragma: no cover
    import keras

NUM_CLASSES = 11
REJECT = 10  # index of the reject class
CLASS_NAMES = [str(d) for d in range(10)] + ["reject"]
SCREEN_SUFFIX = "-fast"  # digits.keras is screened by digits-fast.keras beside it
SCREEN_ENV = "FORMREADER_SCREEN"  # "off" reads every crop with the full model
SECOND_SUFFIX = "-second"  # digits.keras's second look also asks digits-second.keras beside it
# A crop the screen reads below this goes to the full model. The shipped screen ('lite',
# distilled from the full model) gives the full model's argmax on all 10,000 MNIST test digits at
# 0.99, with 5.4% of them going through (1 differs at 0.98). A 'fast' screen trained on the
# labels needs 0.997 and sends 7.7% through.
SCREEN_CONFIDENCE = 0.99
# The page scanner asks more of the screen: a page's candidate crops (cuts, merges, box-line
# remnants) are where a small network is sure of what the full model doubts. On 5,036 crops of
# the golden and benchmark pages, the shipped screen is >= 0.99 sure of 74 crops the full model
# reads below 0.9 (the review threshold), and >= 0.999 sure of 18; taking those at the screen's
# word turned 2 fields in review into silent errors on four fresh sample sets at 0.99, none at
# 0.999 (same wrong fields, review and silent counts as the full model's previous screen).
PAGE_SCREEN_CONFIDENCE = 0.999
# A digit a page is read with below this is looked at again (Recognizer.look_again): the review
# threshold, so it is the digits a clerk would be shown that get the second look.
LOOK_AGAIN_BELOW = 0.9
# Tilts (degrees) of a second look. A doubtful digit read upright and tilted both ways, the
# three readings averaged: on the 5,000 MNIST training digits the full model never trained on,
# 21 errors -> 19 at +-10 (11-12 of the 14 errors below 0.9 left at any tilt from 4 to 12; 14
# at 15); on MNIST test, 29 of the 100 digits read below 0.9 are misread, 17 after. On pages
# see formreader.reading.schedule.look_again.
LOOK_AGAIN_TILTS = (-10.0, 10.0)
# The second look also asks a second full network (:func:`second_path`), trained in the same
# two steps from another seed, once, upright; its reading is averaged in with the three above.
# Why: the two networks learned different details of the same digits. On 90,116 labelled page
# crops of MNIST test digits (seeds 61000-69059), the 1,318 read below 0.9 hold 438 of the
# shipped model's 713 errors: 396 left after the tilts, 378 with the second network as well
# (its tilted views as well: 383; the screens in its place: 402-419). See docs/model.md,
# "How a crop is read", and benchmarks/bench_second_look.py.


def _conv(x: Any, filters: int, size: int, strides: int = 1, padding: str = "valid") -> Any:
    """Convolution, batch norm, ReLU: the block both networks are made of (ONNX export folds the
    batch norm into the convolution)."""
    from keras import layers

    x = layers.Conv2D(filters, size, strides=strides, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def build_model(dropout: float = 0.4) -> "keras.Model":
    """A compact CNN in the style of the Keras MNIST examples, with batch norm after each conv.

    Strided 5x5 convolutions replace max-pooling: they learn their own downsampling and measure
    slightly better on MNIST. ~330k parameters, ~1.3 MB on disk.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(28, 28, 1), name="digit")
    x = _conv(inputs, 32, 3)
    x = _conv(x, 32, 3)
    x = _conv(x, 32, 5, strides=2, padding="same")
    x = layers.Dropout(dropout)(x)
    x = _conv(x, 64, 3)
    x = _conv(x, 64, 3)
    x = _conv(x, 64, 5, strides=2, padding="same")
    x = layers.Dropout(dropout)(x)
    x = _conv(x, 128, 4)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="formreader_digits")


def _screen_network(widths: tuple[int, int, int, int, int], map_dropout: float, dense_dropout: float) -> "keras.Model":
    """The screens' shape: a conv at 28x28, strided convs to 14x14 and 7x7, a 3x3 conv to 5x5,
    and a 5x5 conv that covers the whole map (exported as one matrix product)."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(28, 28, 1), name="digit")
    x = _conv(inputs, widths[0], 3, padding="same")
    x = _conv(x, widths[1], 3, strides=2, padding="same")
    x = layers.Dropout(map_dropout)(x)
    x = _conv(x, widths[2], 3, strides=2, padding="same")
    x = layers.Dropout(map_dropout)(x)
    x = _conv(x, widths[3], 3)
    x = _conv(x, widths[4], 5)
    x = layers.Flatten()(x)
    x = layers.Dropout(dense_dropout)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="formreader_digits")


def build_fast_model(dropout: float = 0.4) -> "keras.Model":
    """A screen with a fifth of the full model's arithmetic (3.0 vs 15.2 M multiply-adds),
    trained on the labels. The shipped screen is :func:`build_lite_model`, a third of this.

    Why it exists: most crops on a page are plain digits or plain rejects, and this network
    reads them nearly as surely as the full one (99.64% on MNIST test against 99.66%) at over four
    times its speed. :class:`Recognizer` sends every crop it is not sure of to the full model,
    so the pair answers as the full model does. It downsamples at once (strided convolutions
    from 28x28 to 14x14 to 7x7) and spends its width on the small maps.
    """
    return _screen_network((16, 32, 64, 64, 128), dropout / 2, dropout)


def build_lite_model(dropout: float = 0.4) -> "keras.Model":
    """A screen at a third of :func:`build_fast_model`'s arithmetic (1.07 vs 3.0 M multiply-adds).

    Why: the screen reads every crop, so its cost is most of a batch's. Too small to learn
    MNIST as well as the full model from the labels, it is trained on the full model's own
    probabilities (``formreader train --arch lite --teacher models/digits.keras``), so that
    what it is sure of, the full model reads the same. Widths are multiples of 16, the channel
    block ONNX Runtime computes in on AVX-512.
    """
    return _screen_network((16, 16, 32, 32, 64), dropout / 4, dropout / 2)


ARCHITECTURES: dict[str, Callable[[float], "keras.Model"]] = {
    "full": build_model, "fast": build_fast_model, "lite": build_lite_model}


class Recognizer:
    """Classifies batches of 28x28 MNIST-style crops with one native inference call per chunk.

    The network runs through :mod:`formreader.recognizer.infer`: ONNX Runtime on a graph exported from the
    Keras weights when it reproduces Keras, else a ``tf.function``. Either way the per-call
    overhead is well under a millisecond (``keras.Model.predict`` costs tens), which matters
    when a page has a few hundred candidate crops and a batch has thousands of pages.
    ``chunk`` bounds the activations in memory (~0.1 MB per crop in the first layers) and
    keeps them in cache; measured in benchmarks/bench_classify.py.
    """

    def __init__(self, model: "keras.Model | None", path: Path | None = None, chunk: int = 256,
                 backend: str | None = None, forward: "Callable[[np.ndarray], np.ndarray] | None" = None,
                 screen: "Recognizer | None" = None, screen_confidence: float = SCREEN_CONFIDENCE,
                 second: "Recognizer | None" = None) -> None:
        """``forward`` (from :func:`formreader.recognizer.infer.cached_forward`) skips the export; then
        ``model`` may be None and the Keras model is only loaded from ``path`` if asked for.

        ``screen``: a cheaper recognizer that reads every crop first; only the crops it reads
        below ``screen_confidence`` are read again by this model, and those readings replace
        the screen's. Most crops are plain, so a page costs about the screen's price while
        every doubtful crop still gets this model's answer.

        ``second``: another full network whose reading :meth:`look_again` averages in."""
        if forward is None:
            if model is None:
                raise ValueError("Recognizer needs a Keras model or a forward function")
            from formreader.recognizer.infer import make_forward

            forward = make_forward(model, backend)
        self._model = model
        self.strings_path: Path | None = None  # a bundle's string reader; None: the shipped one
        # How much surer the string reader must be for its digits to be reported when the two
        # readers disagree (formreader.reading.judge); a bundle's is chosen on its held-out fields.
        self.pick_margin: float | None = PICK_MARGIN
        self.path = path
        self.chunk = chunk
        self._forward = forward
        self.backend: str = getattr(forward, "backend", "tf")
        self.screen = screen
        self.screen_confidence = screen_confidence
        self.second = second

    @property
    def model(self) -> "keras.Model":
        """The Keras model (loaded on first use when the recognizer came from the export cache)."""
        if self._model is None:
            if self.path is None:
                raise ModelError("this recognizer has no Keras model and no model path")
            self._model = load_keras_model(self.path)
        return self._model

    def probabilities(self, crops: np.ndarray, screen_confidence: float | None = None) -> np.ndarray:
        """Class probabilities (N, 11) for crops (N, 28, 28) float in [0, 1], white on black.

        ``screen_confidence`` replaces this recognizer's own for this call (the page scanner
        passes :data:`PAGE_SCREEN_CONFIDENCE`)."""
        crops = np.ascontiguousarray(crops, dtype=np.float32)
        if crops.ndim == 2:
            crops = crops[None]
        if crops.ndim != 3 or crops.shape[1:] != (28, 28):
            raise ValueError(f"expected crops of shape (N, 28, 28), got {crops.shape}")
        if len(crops) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        if self.screen is None:
            return self._run(crops)
        probs = self.screen.probabilities(crops)
        threshold = self.screen_confidence if screen_confidence is None else screen_confidence
        doubtful = np.flatnonzero(probs.max(axis=1) < threshold)
        if len(doubtful):
            probs[doubtful] = self._run(crops[doubtful])
        return probs

    def look_again(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities (N, 11) of doubtful crops: this model's readings of each crop
        upright and tilted by :data:`LOOK_AGAIN_TILTS`, and the second network's upright
        reading if there is one, averaged (the screen has no say).

        Why: a digit the model doubts sits near the edge between two classes, and where it
        lands depends on details (a slant, a stroke end) that a tilt of a few degrees moves, or
        that another network weighs differently; a reading that holds across them is the one
        to trust. Costs one call of each network on the few doubtful digits of a page.
        """
        from formreader.imaging.normalize import tilted

        crops = np.ascontiguousarray(crops, dtype=np.float32)
        views = np.concatenate([crops] + [tilted(crops, t) for t in LOOK_AGAIN_TILTS])
        readings = self._run(views).reshape(-1, len(crops), NUM_CLASSES)
        if self.second is not None:
            readings = np.concatenate([readings, self.second._run(crops)[None]])
        return readings.mean(axis=0).astype(np.float32)

    def screened_by(self, screen: "Recognizer", confidence: float = SCREEN_CONFIDENCE) -> "Recognizer":
        """This model, sharing its loaded network (and its second), behind ``screen``."""
        return self._sharing(screen=screen, screen_confidence=confidence)

    def seconded_by(self, second: "Recognizer | None") -> "Recognizer":
        """This model, sharing its loaded network (and its screen), with ``second`` in its
        second look (None: it looks again alone)."""
        return self._sharing(second=second)

    def _sharing(self, **changes: Any) -> "Recognizer":
        """A recognizer on this one's loaded network, with ``changes`` to its screen, screen
        confidence or second network and the rest as they are."""
        kept: dict[str, Any] = {"screen": self.screen, "screen_confidence": self.screen_confidence,
                                "second": self.second}
        return Recognizer(self._model, self.path, self.chunk, forward=self._forward, **{**kept, **changes})

    def _run(self, crops: np.ndarray) -> np.ndarray:
        """This model alone, in chunks."""
        if len(crops) <= self.chunk:
            return np.asarray(self._forward(crops), np.float32)
        return np.concatenate([self._forward(crops[start : start + self.chunk])
                               for start in range(0, len(crops), self.chunk)]).astype(np.float32)

    def classify(self, crops: np.ndarray, screen_confidence: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Predicted class per crop (0-9, or REJECT=10) and the (N, 11) probabilities."""
        probs = self.probabilities(crops, screen_confidence)
        return probs.argmax(axis=1).astype(np.int64), probs


@contextmanager
def native_stderr_muted() -> Iterator[None]:
    """Silence C++ start-up chatter (TensorFlow 2.2x logs oneDNN/CUDA notices straight to fd 2,
    ignoring TF_CPP_MIN_LOG_LEVEL) so that stderr carries only our one-line messages.
    Python exceptions are unaffected: they are raised, not printed, inside the block."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (embedded interpreters): nothing to mute
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_keras_model(path: str | os.PathLike[str]) -> "keras.Model":
    """Load a ``.keras`` file, turning every failure into one ModelError line."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"{path}: model file not found; train one with `formreader train` or pass --model"
        )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_muted():
        try:
            import keras
        except ImportError:
            raise ModelError(f"{path}: a .keras model without its ONNX export beside it needs TensorFlow: "
                             "pip install 'formreader[train]'") from None
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # keras raises many types for a bad file
            raise ModelError(f"{path}: not a readable Keras model ({type(exc).__name__}: {exc})") from None
    shape = tuple(model.input_shape[1:]), tuple(model.output_shape[1:])
    if shape != ((28, 28, 1), (NUM_CLASSES,)):
        raise ModelError(f"{path}: model maps {shape[0]} -> {shape[1]}, expected (28, 28, 1) -> (11,)")
    return model


@lru_cache(maxsize=4)
def _load_cached(path: str) -> Recognizer:
    from formreader.recognizer import infer

    if Path(path).suffix == ".onnx" and Path(path).is_file():  # an export alone: no Keras file to check
        path = str(Path(path).with_suffix(".keras"))
    if not Path(path).is_file() and not Path(path).with_suffix(".onnx").is_file():
        raise ModelError(f"{path}: model file not found; train one with `formreader train` or pass --model")
    # No TensorFlow import: the export shipped beside the model, else this machine's cache.
    forward = infer.beside_forward(path) or infer.cached_forward(path)
    if forward is not None:
        return Recognizer(None, Path(path), forward=forward)
    rec = Recognizer(load_keras_model(path), Path(path))
    infer.store_export(path, rec._forward)
    return rec


def screen_path(path: str | os.PathLike[str]) -> Path:
    """Where the screen of the model at ``path`` lives: ``digits.keras`` -> ``digits-fast.keras``."""
    path = Path(path)
    return path.with_name(path.stem + SCREEN_SUFFIX + path.suffix)


def second_path(path: str | os.PathLike[str]) -> Path:
    """Where the second network of the model at ``path`` lives: ``digits.keras`` ->
    ``digits-second.keras``."""
    path = Path(path)
    return path.with_name(path.stem + SECOND_SUFFIX + path.suffix)


@lru_cache(maxsize=4)
def _load_full(path: str) -> Recognizer:
    """The model at ``path``, with the second network beside it, if any, in its second look."""
    second = second_path(path)
    rec = _load_cached(path)
    return rec.seconded_by(_load_cached(str(second))) if second.is_file() else rec


@lru_cache(maxsize=4)
def _load_screened(path: str, screen: str) -> Recognizer:
    return _load_full(path).screened_by(_load_cached(screen))


def load_model(path: str | os.PathLike[str] | None = None, screen: bool | None = None) -> Recognizer:
    """The recognizer for ``path`` (default: the shipped model), loaded once per process.

    If a screen (:func:`screen_path`) lies beside the model it reads every crop first, unless
    ``screen`` is False or ``$FORMREADER_SCREEN`` is ``off``. A model without one beside it
    (your own ``--model``) reads every crop itself. A second network beside it
    (:func:`second_path`) joins its second look at doubtful digits, screen or not.

    ``path`` may be a bundle folder (:mod:`formreader.recognizer.bundle`): its digit model is
    loaded, and its string reader is the one field images are read with
    (:attr:`Recognizer.strings_path`).
    """
    from formreader.recognizer.bundle import bundle_models, is_bundle

    strings, margin = None, PICK_MARGIN
    path = Path(path) if path else default_model_path()  # $FORMREADER_MODEL may name a bundle too
    if is_bundle(path):
        path, strings, margin = bundle_models(path)
    rec = _load(str(path), screen)
    rec.strings_path = strings
    rec.pick_margin = margin
    return rec


def _load(full: str, screen: bool | None) -> Recognizer:
    if screen is None:
        screen = os.environ.get(SCREEN_ENV, "").strip().lower() not in ("off", "0", "no", "false")
    fast = screen_path(full)
    if screen and fast.is_file() and not Path(full).stem.endswith(SCREEN_SUFFIX):
        return _load_screened(full, str(fast))
    return _load_full(full)
