"""The string reader: CTC decoding, its input strip, the exported network, the shipped model on
strings of MNIST test digits it never trained on, and judging it together with the segmenter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from formreader.reading.judge import judge
from formreader.recognizer.shipped import string_model_path
from formreader.recognizer.strings import (ALPHABET, HEIGHT, StringReader, StringReading, align, decode_beam,
                                           decode_best_path, read_within, strip_of)
from formreader.results import Digit, Field
from formreader.training.string_synth import StringWriter, batch, encode


def _posteriors(classes: list[int], sure: float = 0.98) -> np.ndarray:
    """One column per class index, that class at ``sure``, the rest shared out."""
    p = np.full((len(classes), len(ALPHABET) + 1), (1 - sure) / len(ALPHABET), np.float32)
    for t, k in enumerate(classes):
        p[t, k] = sure
    return p


def test_best_path_merges_repeats_and_drops_blanks() -> None:
    one, zero, dot = encode("1")[0], encode("0")[0], encode(".")[0]
    text, conf, cols = decode_best_path(_posteriors([0, one, one, 0, one, dot, zero, zero, 0, zero]))
    assert text == "11.00"
    assert cols == (1, 4, 5, 6, 9) and all(abs(c - 0.98) < 1e-6 for c in conf)


def test_beam_search_sums_the_paths_of_one_string() -> None:
    # Column by column the blank wins in the middle, but "7" held over two columns or "7" then
    # blank spell the same string: their sum makes "7" likelier than "77".
    seven = encode("7")[0]
    p = np.zeros((3, len(ALPHABET) + 1), np.float32)
    p[0, seven] = 1.0
    p[1, 0], p[1, seven] = 0.45, 0.55
    p[2, seven], p[2, 0] = 0.4, 0.6
    ranked = dict(decode_beam(p))
    assert ranked["7"] > ranked["77"]
    assert decode_beam(p)[0][0] == "7"
    assert abs(sum(np.exp(v) for v in ranked.values()) - 1.0) < 1e-6  # every path accounted for


def test_alignment_finds_each_characters_columns() -> None:
    one, two, zero = encode("1")[0], encode("2")[0], encode("0")[0]
    p = _posteriors([0, one, one, 0, two, 0, zero, 0, zero])
    conf, cols = align(p, "1200")
    assert cols == (1, 4, 6, 8) and all(abs(c - 0.98) < 1e-6 for c in conf)
    assert align(p, "120")[0] and all(c < 0.05 for c in align(p, "3")[0])  # spelled, but not by the ink
    assert align(p[:3], "1200") == ((), ())  # four characters, two of them the same: 5+ columns


def test_a_rule_picks_the_likeliest_string_it_accepts_and_says_how_sure() -> None:
    one, seven = encode("1")[0], encode("7")[0]
    p = _posteriors([0, one, 0, seven, 0, one, 0])
    p[5, one], p[5, 0] = 0.55, 0.43  # the last "1" is a doubtful mark: a speck or a digit?
    assert decode_best_path(p)[0] == "171"
    two = read_within(p, lambda s: len(s) == 2)
    assert two is not None and two.text == "17"
    share = np.exp(dict(decode_beam(p))["17"] - decode_beam(p)[0][1])
    assert 0.3 < share < 1 and max(two.confidences) <= share + 1e-6  # scaled by its share of the top
    assert read_within(p, lambda s: len(s) == 9) is None  # nothing in the beam passes


def test_strip_centres_the_digits_at_the_trained_height() -> None:
    mask = np.zeros((200, 400), bool)
    mask[60:120, 100:130] = True  # two "digits" 60 px high
    mask[60:120, 150:180] = True
    strip = strip_of(mask, 60.0)
    assert strip is not None and strip.image.shape[0] == HEIGHT
    rows = np.nonzero(strip.image.max(axis=1) > 0.5)[0]
    assert abs((rows.max() - rows.min() + 1) - 21) <= 1  # STRIP_DIGIT rows high
    assert abs((rows.max() + rows.min()) / 2 - HEIGHT / 2) <= 1
    x, y, w, h = strip.char_rect(int(np.nonzero(strip.image.max(axis=0) > 0.5)[0].mean()) // 4)
    assert 100 <= x + w / 2 <= 180 and y == 60 and h == 60
    assert strip_of(np.zeros((10, 10), bool), 5.0) is None


def test_onnx_export_matches_keras() -> None:
    pytest.importorskip("tensorflow")
    import onnxruntime as ort

    from formreader.training.train_strings import build_string_model, string_model_to_onnx

    model = build_string_model()
    x = np.random.default_rng(0).random((3, HEIGHT, 61)).astype(np.float32)  # odd width
    import tensorflow as tf

    want = tf.nn.softmax(model(x[..., None], training=False)[:, 0]).numpy()
    got = ort.InferenceSession(string_model_to_onnx(model)).run(None, {"x": x})[0]
    assert got.shape == want.shape == (3, 15, len(ALPHABET) + 1)
    assert np.abs(got - want).max() < 1e-4


@pytest.fixture(scope="module")
def reader() -> StringReader:
    path = string_model_path()
    assert path is not None, "FORMREADER_STRING_MODEL=none"
    if not path.is_file():
        pytest.fail(f"{path}: the shipped string model is missing")
    return StringReader(path)


def test_shipped_model_reads_strings_of_unseen_mnist_digits(mnist, reader) -> None:
    # Drawn from the MNIST test digits with a seed the training never used.
    writer = StringWriter(mnist.x_test, mnist.y_test, seed=4242)
    x, _, _, texts = batch(writer, 300)
    read = [decode_best_path(reader.posteriors(img))[0] for img in x]
    exact = np.mean([a == b for a, b in zip(read, texts)])
    card = json.loads(Path(str(string_model_path())).with_suffix(".json").read_text())
    assert exact >= MIN_SYNTHETIC_EXACT, f"{exact:.3f} exact (model card: {card['synthetic_test_exact']})"


MIN_SYNTHETIC_EXACT = 0.93  # the shipped model reads 95.0% of these 300


def _field(value: str, conf: float) -> Field:
    digits = [Digit(c, conf, (10 * i, 0, 10, 20)) for i, c in enumerate(value)]
    return Field("f", value, conf, "ok", (0, 0, 10 * len(value), 20), digits)


def _strip() -> object:
    mask = np.zeros((40, 100), bool)
    mask[10:30, 10:90] = True
    return strip_of(mask, 20.0)


def test_agreeing_readers_keep_the_field_ok() -> None:
    f = judge(_field("42", 0.99), StringReading("42", (0.9, 0.95), (2, 5)), _strip(), lambda r: r)
    assert f.status == "ok" and f.value == "42" and f.second == ("42", (0.9, 0.95))
    assert f.to_dict()["string_reader"] == {"text": "42", "confidences": [0.9, 0.95]}


def test_disagreeing_readers_send_the_field_to_review_with_the_surer_reading() -> None:
    seg = _field("6", 0.97)
    f = judge(seg, StringReading("10", (0.99, 0.99), (2, 6)), _strip(), lambda r: r)
    assert f.status == "review" and "readers disagree" in (f.reason or "") and f.value == "6"
    g = judge(_field("6", 0.5), StringReading("1.0", (0.99, 0.8, 0.9), (2, 4, 6)), _strip(), lambda r: r)
    assert g.value == "10" and g.text == "1.0" and [d.value for d in g.digits] == ["1", "0"]
    assert g.confidence == pytest.approx(0.9) and g.bbox[2] > 0
    h = judge(_field("6", 0.7), StringReading("10", (0.85, 1.0), (2, 6)), _strip(), lambda r: r)
    assert h.status == "review" and h.value == "6"  # not surer by the margin


def test_a_margin_that_reads_more_held_out_fields_right_is_chosen_and_the_shipped_one_otherwise() -> None:
    from formreader.reading.judge import PICK_MARGIN, choose_pick_margin, pick_value

    assert pick_value("6", 0.97, "10", 0.99, PICK_MARGIN) == "6"
    assert pick_value("6", 0.5, "10", 0.99, PICK_MARGIN) == "10"
    assert pick_value("6", 0.99, "10", 0.6, -1.0) == "10" and pick_value("6", 0.1, "10", 1.0, None) == "6"
    assert pick_value("6", 0.1, "", 1.0, -1.0) == "6"  # a string reader that read nothing never wins
    # A collection where the string reader is right whenever they disagree, a little less sure.
    learnt = [("6", 0.95, "20", 0.9, "20")] * 30 + [("7", 0.99, "7", 0.99, "7")] * 70
    assert choose_pick_margin(learnt) == -0.1
    # Where it is right as often as wrong, nothing is gained: the shipped margin stays.
    even = [("6", 0.95, "20", 0.9, "20")] * 10 + [("5", 0.95, "3", 0.9, "5")] * 10
    assert choose_pick_margin(even) == PICK_MARGIN
    # One field more is noise, not a reason to move.
    assert choose_pick_margin([("6", 0.95, "20", 0.9, "20")] + [("7", 0.99, "7", 0.99, "7")] * 99) == PICK_MARGIN
    # Where the string reader is always wrong, never taking its digits reads more right.
    wrong = [("6", 0.2, "5", 0.99, "6")] * 10 + [("7", 0.99, "7", 0.99, "7")] * 90
    assert choose_pick_margin(wrong) is None
