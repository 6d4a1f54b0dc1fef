"""The shipped model: accuracy on the full MNIST test set, rejection of non-digit marks, size."""

from __future__ import annotations

import json

import numpy as np
from conftest import SHIPPED_MODEL

from formreader.recognizer.model import REJECT
from formreader.training.evaluate import digit_report, reject_report
from formreader.training.train import fixed_eval_sets


def test_shipped_model_is_small():
    assert SHIPPED_MODEL.stat().st_size <= 5 * 1024 * 1024


def test_mnist_test_accuracy(recognizer, mnist):
    probs = recognizer.probabilities(mnist.x_test / 255.0)
    report = digit_report(probs, mnist.y_test)
    print(f"MNIST test accuracy {report['accuracy']:.4f}, ECE {report['ece']:.4f}")
    assert report["n"] == 10000
    assert report["accuracy"] >= 0.996
    assert report["ece"] < 0.02


def test_model_card_matches_the_model(recognizer, mnist):
    card = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text())
    probs = recognizer.probabilities(mnist.x_test / 255.0)
    assert abs(card["test"]["accuracy"] - digit_report(probs, mnist.y_test)["accuracy"]) < 1e-9
    assert card["data"]["sha256"] == mnist.sha256


def test_non_digit_marks_are_rejected(recognizer, mnist):
    sets = fixed_eval_sets(mnist.x_test[:1000], mnist.y_test[:1000], seed=7, n_reject=1200)
    report = reject_report(recognizer.probabilities(sets["rejects"]), sets["reject_kinds"])
    print("rejected or conf < 0.5:", report)
    assert report["rejected_or_low_conf"] >= 0.95


def test_scan_style_digits_are_still_read(recognizer, mnist):
    sets = fixed_eval_sets(mnist.x_test[:2000], mnist.y_test[:2000], seed=8, n_reject=6)
    digits, _ = recognizer.classify(sets["scan"])
    accuracy = float((digits == mnist.y_test[:2000]).mean())
    print(f"scan-style accuracy {accuracy:.4f}, rejected {(digits == REJECT).mean():.4f}")
    # Shipped model measured 0.968 here; the distortions are harsher than real scans on purpose.
    assert accuracy >= 0.96


def test_batching_does_not_change_results(recognizer, mnist):
    x = mnist.x_test[:300] / 255.0
    whole = recognizer.probabilities(x)
    one_by_one = np.concatenate([recognizer.probabilities(x[i : i + 1]) for i in range(0, 300, 37)])
    assert whole.shape == (300, 11)
    np.testing.assert_array_equal(whole.argmax(1)[::37], one_by_one.argmax(1))
    np.testing.assert_allclose(whole[::37], one_by_one, atol=1e-4)
