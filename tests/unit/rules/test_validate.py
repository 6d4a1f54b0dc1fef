"""Field rules: checksums on published numbers, typed values, and review instead of silent ok."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from formreader.config import FieldSpec
from formreader.results import Digit, Field
from formreader.rules.validate import (aba_check_digit, aba_ok, apply_rules, format_amount, luhn_check_digit, luhn_ok,
                                       mod11_check_digit, mod11_ok, parse_date, string_rule)


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


def read_as(value: str, guesses: dict[int, dict[str, float]]) -> Field:
    """A field read as ``value``; ``guesses[i]`` gives digit i's probabilities (the rest of its
    probability is on the digit read), other digits are read at 0.999."""
    digits = []
    for i, c in enumerate(value):
        p = [0.0] * 10
        others = guesses.get(i, {})
        for d, q in others.items():
            p[int(d)] = q
        p[int(c)] = 1.0 - sum(others.values()) if others else 0.999
        digits.append(Digit(c, p[int(c)], (10 * i, 0, 10, 10), tuple(p)))
    conf = min(d.confidence for d in digits)
    return Field("field1", value, conf, "ok", (0, 0, 10 * len(value), 10), digits)


def test_a_broken_check_digit_is_mended_by_the_likeliest_second_guess() -> None:
    # 021000021 is a valid routing number; its 4th digit misread as 7 breaks the checksum. Digit 4's
    # second guess (0 at 0.30) mends it; digit 8's (a 9 at 0.02) would not pass.
    out = apply_rules(read_as("021700021", {3: {"0": 0.30}, 7: {"9": 0.02}}), spec(length=9, checksum="aba"))
    assert out.value == "021000021" and out.status == "review"
    assert out.reason == ("ABA routing (3-7-1) checksum failed as read (021700021); digit 4 taken as 0 (0.30), "
                          "not 7 (0.70): the likeliest reading that passes")
    assert out.digits[3].value == "0" and out.confidence == pytest.approx(0.30)


def test_repair_prefers_the_digit_the_model_doubted() -> None:
    # Read 021700021 (digit 4 is a misread 0). Two single changes pass the checksum: digit 2 -> 9,
    # a guess at 0.02 against 0.98, and digit 4 -> 0, at 0.40 against 0.60: 30 times likelier.
    assert aba_ok("091700021") and aba_ok("021000021")
    out = apply_rules(read_as("021700021", {1: {"9": 0.02}, 3: {"0": 0.40}}), spec(length=9, checksum="aba"))
    assert out.value == "021000021"
    out = apply_rules(read_as("021700021", {1: {"9": 0.40}, 3: {"0": 0.02}}), spec(length=9, checksum="aba"))
    assert out.value == "091700021"


def test_no_repair_from_faint_guesses_a_regex_or_without_probabilities() -> None:
    rules = spec(length=9, checksum="aba")
    faint = apply_rules(read_as("021700021", {3: {"0": 0.005}}), rules)
    assert faint.value == "021700021" and faint.reason == "ABA routing (3-7-1) checksum failed"
    # A regex may spell out the value expected: it never chooses the digits.
    fixed = apply_rules(read_as("0123456787", {9: {"9": 0.4}}), spec(regex="0123456789"))
    assert fixed.value == "0123456787" and fixed.reason == "does not match regex 0123456789"
    # Fields from a recognizer without probabilities are only checked.
    assert apply_rules(found("021700021"), rules).value == "021700021"


def test_date_years_and_an_impossible_date_mended() -> None:
    rules = spec(type="date", format="MMDDYYYY", years=[2000, 2099])
    assert apply_rules(found("07252024"), rules).status == "ok"
    far = apply_rules(found("07252224"), rules)
    assert far.status == "review" and far.reason == "year 2224 outside 2000..2099"
    mended = apply_rules(read_as("06712025", {2: {"2": 0.2, "1": 0.1}}), rules)
    assert (mended.value, mended.text) == ("06212025", "2025-06-21")
    assert mended.reason is not None and mended.reason.startswith(
        "not a date (day 71 does not exist in 2025-06) as read (06712025); digit 3 taken as 2 (0.20)")


def test_string_rule_accepts_what_the_rules_accept_and_never_steers_by_regex() -> None:
    assert string_rule(FieldSpec(name="n")) is None  # nothing narrows a bare field
    assert string_rule(FieldSpec(name="n", regex="0123456789")) is None  # a regex never steers
    zip5 = string_rule(FieldSpec(name="zip", length=5, regex="[0-9]{5}"))
    assert zip5 is not None and zip5("12345") and not zip5("123456") and not zip5("")
    assert zip5("54321")  # the regex is checked afterwards, not used to choose the reading
    aba = string_rule(FieldSpec(name="r", checksum="aba"))
    assert aba is not None and aba("011000015") and not aba("011000016")
    amount = string_rule(FieldSpec(name="a", type="amount"))
    assert amount is not None and amount("1.480,00") and amount("25")
    assert not amount(".25") and not amount("25,") and not amount("1.,5")
    date = string_rule(FieldSpec(name="d", type="date", format="DDMMYYYY"))
    assert date is not None and date("29/02/2024") and not date("30/02/2024")
