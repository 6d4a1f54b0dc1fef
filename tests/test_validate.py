"""Field rules: checksums on published numbers, typed values, and review instead of silent ok."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from formreader.config import FieldSpec
from formreader.results import Digit, Field
from formreader.validate import (aba_check_digit, aba_ok, apply_rules, format_amount, luhn_check_digit,
                                 luhn_ok, mod11_check_digit, mod11_ok, parse_date)


def found(value: str, status: str = "ok", reason: str | None = None) -> Field:
    digits = [Digit(c, 0.99, (10 * i, 0, 10, 10)) for i, c in enumerate(value)]
    return Field("field1", value, 0.99 if value else 0.0, status, (0, 0, 10 * len(value), 10), digits, reason)  # type: ignore[arg-type]


def spec(**kw: object) -> FieldSpec:
    return FieldSpec(name="f", index=0, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("number, ok", [
    ("79927398713", True), ("79927398710", False),  # the textbook Luhn example
    ("4539578763621486", True), ("4539578763621487", False),
])
def test_luhn(number: str, ok: bool) -> None:
    assert luhn_ok(number) is ok


@pytest.mark.parametrize("number, ok", [
    ("011000015", True), ("021000021", True), ("026009593", True),  # Fed Boston, Chase, BofA
    ("021000012", False), ("02100002", False),
])
def test_aba(number: str, ok: bool) -> None:
    assert aba_ok(number) is ok


@pytest.mark.parametrize("number, ok", [("0306406152", True), ("0306406153", False), ("0198526636", True)])
def test_mod11_isbn10(number: str, ok: bool) -> None:
    assert mod11_ok(number) is ok


@given(st.text("0123456789", min_size=8, max_size=8), st.integers(0, 7), st.integers(1, 9))
def test_check_digits_catch_every_single_digit_error(body: str, pos: int, delta: int) -> None:
    # Every weight (Luhn's doubling, 3-7-1, 1..9 mod 11) is a bijection on digits, so any
    # single misread digit changes the sum.
    for make, ok in ((luhn_check_digit, luhn_ok), (aba_check_digit, aba_ok), (mod11_check_digit, mod11_ok)):
        check = make(body)
        if check is None:
            continue
        number = body + check
        assert ok(number)
        wrong = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1:]
        assert not ok(wrong), (make.__name__, number, wrong)


def test_amount_text_keeps_separators() -> None:
    assert format_amount("123450") == "1,234.50"
    assert format_amount("5") == "0.05"
    assert format_amount("1234567", decimals=0, thousands=" ") == "1 234 567"
    assert format_amount("123456", thousands=".", decimal=",") == "1.234,56"
    out = apply_rules(found("123450"), spec(type="amount", range=[0, 5000]))
    assert (out.status, out.text, out.reason) == ("ok", "1,234.50", None)
    big = apply_rules(found("900000"), spec(type="amount", range=[0, 5000]))
    assert big.status == "review" and big.reason == "9000 outside range 0..5000"


def test_dates() -> None:
    assert parse_date("02292024", "MMDDYYYY").isoformat() == "2024-02-29"
    assert parse_date("311299", "DDMMYY").isoformat() == "1999-12-31"
    out = apply_rules(found("02292023"), spec(type="date", format="MMDDYYYY"))
    assert out.status == "review" and out.reason == "not a date (day 29 does not exist in 2023-02)"
    assert apply_rules(found("13012024"), spec(type="date", format="MMDDYYYY")).reason == "not a date (month 13 is not 01..12)"
    assert apply_rules(found("03152024"), spec(type="date", format="MMDDYYYY")).text == "2024-03-15"


@pytest.mark.parametrize("value, rules, reason", [
    ("1234", {"length": 5}, "4 digits, expected 5"),
    ("123456", {"length": [5, 9]}, "6 digits, expected 5 or 9"),
    ("12", {"min_length": 3}, "2 digits, expected at least 3"),
    ("12345", {"regex": "9[0-9]+"}, "does not match regex 9[0-9]+"),
    ("021000012", {"checksum": "aba"}, "ABA routing (3-7-1) checksum failed"),
    ("79927398710", {"checksum": "luhn"}, "Luhn checksum failed"),
    ("150", {"range": [1, 100]}, "150 outside range 1..100"),
    ("", {}, "empty"),
])
def test_failing_rule_goes_to_review_with_reason(value: str, rules: dict, reason: str) -> None:
    out = apply_rules(found(value), spec(**rules))
    assert out.status == "review" and out.reason == reason and out.name == "f"


def test_passing_rules_keep_ok_and_review_stays_review() -> None:
    rules = spec(length=9, checksum="aba", regex="[0-3][0-9]{8}")
    assert apply_rules(found("021000021"), rules).status == "ok"
    low = apply_rules(found("021000021", "review", "low confidence digit 3 (0.41)"), rules)
    assert (low.status, low.reason) == ("review", "low confidence digit 3 (0.41)")
    both = apply_rules(found("02100002", "review", "low confidence"), rules)
    assert both.reason == ("low confidence; 8 digits, expected 9; does not match regex [0-3][0-9]{8}; "
                           "ABA routing (3-7-1) checksum failed")
    assert apply_rules(found(""), spec(optional=True)).status == "ok"
