"""The string reader: a whole number read at once by a CTC network, beside the segmenter.

The segmenter cuts a field into digits and the CNN reads each; when digits are joined (a looped
``00``, a ``4`` whose bar runs into the next digit) the cut is where it goes wrong. The string
reader needs no cut: it scores every class in every column of the number's image and the best
path through the columns is the string (:func:`decode_best_path`). Trained on synthetic strings
only (:mod:`formreader.training.train_strings`); run by ONNX Runtime, no TensorFlow.

Its input is what the field reader already made of the crop: the number's ink mask, upright,
scaled so that its digits are :data:`STRIP_DIGIT` rows high on a strip of
:data:`HEIGHT` rows (:func:`strip_of`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from formreader.errors import ModelError
from formreader.recognizer.infer import Forward, onnx_session_forward

HEIGHT = 32  # rows of a string image
STRIDE = 4  # string-image columns per column of the reader's output
ALPHABET = "0123456789.,-/"  # class k + 1 is ALPHABET[k]; class 0 is the CTC blank
STRIP_DIGIT = 21.0  # digit height on the strip: the middle of what the network was trained on
# On disagreement the string reader's digits are reported when its weakest digit is surer than
# the segmenter's by this much (formreader.reading.judge): alone the shipped string reader reads
# fewer real numbers right than the segmenter (docs/model.md), so it has to be clearly surer to
# be preferred. A fine-tuned bundle chooses its own on its held-out fields.
PICK_MARGIN = 0.2
STRIP_MARGIN = 0.5  # digit heights of blank kept left and right of the ink
STRIP_MIN_WIDTH = 4 * STRIDE  # narrowest strip: four output columns


@dataclass(frozen=True)
class StringReading:
    """A decoded string: its characters and, per character, the posterior of its best column."""

    text: str
    confidences: tuple[float, ...]
    columns: tuple[int, ...]  # output column of each character's peak

    @property
    def digits(self) -> str:
        return "".join(c for c in self.text if c.isdigit())

    @property
    def digit_confidences(self) -> tuple[float, ...]:
        return tuple(p for c, p in zip(self.text, self.confidences) if c.isdigit())


def decode_best_path(probs: np.ndarray) -> tuple[str, tuple[float, ...], tuple[int, ...]]:
    """Best-path CTC decoding of (T, classes) posteriors: the top class per column, repeats
    merged, blanks dropped. Each character's confidence is its peak posterior over the run of
    columns that produced it."""
    best = probs.argmax(axis=1)
    text: list[str] = []
    conf: list[float] = []
    cols: list[int] = []
    prev = 0
    for t, k in enumerate(best):
        k = int(k)
        if k != 0 and k != prev:
            text.append(ALPHABET[k - 1])
            conf.append(float(probs[t, k]))
            cols.append(t)
        elif k != 0 and k == prev and probs[t, k] > conf[-1]:
            conf[-1] = float(probs[t, k])
            cols[-1] = t
        prev = k
    return "".join(text), tuple(conf), tuple(cols)


def decode_beam(probs: np.ndarray, beam: int = 16, min_prob: float = 1e-3) -> list[tuple[str, float]]:
    """CTC prefix beam search over (T, classes) posteriors: up to ``beam`` strings with their
    log-probabilities (summed over every path that spells them), likeliest first. Classes below
    ``min_prob`` in a column are not extended (they cannot change which strings lead)."""
    # prefix -> (P(paths ending in blank), P(paths ending in the prefix's last character))
    beams: dict[str, tuple[float, float]] = {"": (1.0, 0.0)}
    for t in range(probs.shape[0]):
        column = probs[t]
        nxt: dict[str, list[float]] = {}

        def add(prefix: str, pb: float, pnb: float) -> None:
            entry = nxt.setdefault(prefix, [0.0, 0.0])
            entry[0] += pb
            entry[1] += pnb

        for prefix, (pb, pnb) in beams.items():
            total = pb + pnb
            add(prefix, total * float(column[0]), 0.0)
            for k in np.flatnonzero(column >= min_prob):
                k = int(k)
                if k == 0:
                    continue
                c = ALPHABET[k - 1]
                p = float(column[k])
                if prefix and prefix[-1] == c:
                    add(prefix, 0.0, pnb * p)  # the same character held
                    add(prefix + c, 0.0, pb * p)  # repeated after a blank
                else:
                    add(prefix + c, 0.0, total * p)
        ranked = sorted(nxt.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))[:beam]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    out = [(k, float(np.log(max(v[0] + v[1], 1e-300)))) for k, v in beams.items()]
    return sorted(out, key=lambda kv: -kv[1])


def align(probs: np.ndarray, text: str) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """The likeliest CTC path through (T, classes) posteriors that spells ``text`` (Viterbi):
    per character, its peak posterior over the columns that path gives it, and that column.
    Empty tuples when ``text`` cannot be spelled in T columns."""
    labels = [ALPHABET.index(c) + 1 for c in text]
    ext = [0]
    for k in labels:
        ext += [k, 0]
    n, big = len(ext), -1e30
    logp = np.log(np.maximum(probs[:, ext], 1e-30))
    # a state may be entered from itself, the one before, or two before (skipping a blank
    # between two different characters)
    skip = np.array([i >= 2 and ext[i] != 0 and ext[i] != ext[i - 2] for i in range(n)])
    score = np.full(n, big)
    score[:2] = logp[0, :2]
    back = np.zeros((probs.shape[0], n), np.int8)
    for t in range(1, probs.shape[0]):
        one = np.concatenate([[big], score[:-1]])
        two = np.where(skip, np.concatenate([[big, big], score[:-2]]), big)
        moves = np.stack([score, one, two])
        back[t] = moves.argmax(axis=0)
        score = moves.max(axis=0) + logp[t]
    end = n - 1 if n == 1 or score[n - 1] >= score[n - 2] else n - 2
    if score[end] <= big / 2:
        return (), ()
    states = [end]
    for t in range(probs.shape[0] - 1, 0, -1):
        states.append(states[-1] - int(back[t, states[-1]]))
    states.reverse()
    conf = [0.0] * len(labels)
    cols = [0] * len(labels)
    for t, state in enumerate(states):
        if state % 2 == 1:
            i = state // 2
            p = float(probs[t, labels[i]])
            if p > conf[i]:
                conf[i], cols[i] = p, t
    return tuple(conf), tuple(cols)


def read_within(probs: np.ndarray, accept: Callable[[str], bool], beam: int = 32) -> StringReading | None:
    """The likeliest string a field's rules accept (``accept``), from a CTC beam of ``beam``
    strings; None when none of them is accepted.

    Each character's confidence is its aligned posterior times the string's share of the
    probability of the likeliest string read: a reading the rules chose over a much likelier
    one is reported as the doubt it is.
    """
    ranked = decode_beam(probs, beam)
    if not ranked:
        return None
    top = ranked[0][1]
    for text, logp in ranked:
        if accept(text):
            conf, cols = align(probs, text)
            if not conf:
                return None
            share = float(np.exp(min(0.0, logp - top)))
            return StringReading(text, tuple(p * share for p in conf), cols)
    return None


@dataclass(frozen=True)
class Strip:
    """The network's input and where it came from: strip column ``u`` is mask column
    ``x0 + u / scale``."""

    image: np.ndarray  # float32 (HEIGHT, W), ink 1.0
    x0: int
    y0: int  # the ink's top row in the mask
    ink_height: int
    scale: float
    digit_height: float  # in mask pixels

    def char_rect(self, column: int) -> tuple[int, int, int, int]:
        """The mask-pixel box of a character peaking at output ``column``: a digit's width
        (0.6 digit heights) around the column's centre, the rows of the number's ink."""
        cx = self.x0 + (column + 0.5) * STRIDE / self.scale
        w = 0.6 * self.digit_height
        return int(round(cx - w / 2)), self.y0, int(round(w)), self.ink_height


def strip_of(mask: np.ndarray, digit_height: float) -> Strip | None:
    """The number's ink mask as the network's input: float32 (HEIGHT, W), ink 1.0, the band of
    the digits centred, digits STRIP_DIGIT rows high. None when there is no ink."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0 or digit_height <= 0:
        return None
    f = STRIP_DIGIT / digit_height
    pad = int(np.ceil(STRIP_MARGIN * digit_height))
    y0, y1 = int(ys.min()), int(ys.max()) + 1
    x0, x1 = int(xs.min()) - pad, int(xs.max()) + 1 + pad
    crop = np.zeros((y1 - y0, x1 - x0), np.float32)
    crop[:, pad:-pad] = mask[y0:y1, x0 + pad : x1 - pad]
    out_w = max(STRIP_MIN_WIDTH, int(round(crop.shape[1] * f)))
    out_h = max(1, int(round(crop.shape[0] * f)))
    small = cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA)
    strip = np.zeros((HEIGHT, out_w), np.float32)
    top = int(round(HEIGHT / 2.0 - out_h / 2.0))
    s0, s1 = max(0, -top), min(out_h, HEIGHT - top)
    strip[top + s0 : top + s1] = small[s0:s1]
    return Strip(strip, x0, y0, y1 - y0, out_w / crop.shape[1], digit_height)



class StringReader:
    """The ONNX string model, loaded once per process."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self.forward: Forward = onnx_session_forward(Path(path).read_bytes(), threads)

    def posteriors(self, strip: np.ndarray) -> np.ndarray:
        """(T, classes) posteriors of one strip."""
        return self.forward(strip[None])[0]

    def read(self, strip: Strip, accept: Callable[[str], bool] | None = None) -> StringReading:
        """The best path; with ``accept`` (a field's rules, :func:`formreader.rules.validate.string_rule`),
        the likeliest string they accept when the best path breaks them (:func:`read_within`)."""
        probs = self.posteriors(strip.image)
        text, conf, cols = decode_best_path(probs)
        if accept is not None and not accept(text):
            within = read_within(probs, accept)
            if within is not None:
                return within
        return StringReading(text, conf, cols)


@functools.lru_cache(maxsize=4)
def load_string_reader(path: str) -> StringReader:
    """The reader of the model file at ``path``, once per process."""
    if not Path(path).is_file():
        raise ModelError(f"{path}: string model file not found (set FORMREADER_STRING_MODEL=none to read "
                         f"field images with the segmenter alone)")
    return StringReader(path)
