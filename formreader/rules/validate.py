"""Field rules (type, length, range, regex, checksum) applied to recognised fields.

A recogniser that is 99% sure of each digit is wrong about some 9-digit field in ten; check
digits and formats catch most of those misreads. So a field that breaks any of its rules is
sent to review with the reason spelled out - it is never reported as "ok" - and the typed
rendering (an amount with its separators, a date in ISO form) goes to ``Field.text``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Callable

from formreader.config import FieldSpec, date_tokens
from formreader.results import Field

# ------------------------------------------------------------------------------ checksums


def _digits(value: str) -> list[int]:
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"not a digit string: {value!r}")
    return [int(c) for c in value]


def luhn_ok(value: str) -> bool:
    """Luhn (mod 10, card numbers, IMEI): double every second digit from the right."""
    total = 0
    for i, d in enumerate(reversed(_digits(value))):
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return len(value) >= 2 and total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass Luhn."""
    return next(str(c) for c in range(10) if luhn_ok(body + str(c)))


ABA_WEIGHTS = (3, 7, 1) * 3


def aba_ok(value: str) -> bool:
    """ABA routing number: 9 digits, weights 3-7-1 repeated, weighted sum divisible by 10."""
    if len(value) != 9:
        return False
    return sum(w * d for w, d in zip(ABA_WEIGHTS, _digits(value))) % 10 == 0


def aba_check_digit(body: str) -> str:
    """The ninth digit that makes an 8-digit ``body`` a valid routing number."""
    if len(body) != 8:
        raise ValueError("an ABA body has 8 digits")
    return next(str(c) for c in range(10) if aba_ok(body + str(c)))


def mod11_ok(value: str) -> bool:
    """Mod 11 (ISBN-10 style): weights n..1 from the left, weighted sum divisible by 11.

    Digits only: bodies whose check value would be 10 ('X') have no valid digit form.
    """
    d = _digits(value)
    n = len(d)
    return n >= 2 and sum((n - i) * x for i, x in enumerate(d)) % 11 == 0


def mod11_check_digit(body: str) -> str | None:
    """The check digit for ``body``, or None when the check value would be 10."""
    return next((str(c) for c in range(10) if mod11_ok(body + str(c))), None)


CHECKSUMS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "luhn": ("Luhn", luhn_ok),
    "aba": ("ABA routing (3-7-1)", aba_ok),
    "mod11": ("mod 11", mod11_ok),
}

# ------------------------------------------------------------------------------ typed values


def format_amount(value: str, decimals: int = 2, thousands: str = ",", decimal: str = ".") -> str:
    """'123450' -> '1,234.50': the digits with the implied decimal places restored."""
    digits = value.lstrip("0").rjust(decimals + 1, "0")
    whole, frac = (digits[:-decimals], digits[-decimals:]) if decimals else (digits, "")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    text = thousands.join(groups)
    return f"{text}{decimal}{frac}" if decimals else text


def parse_date(value: str, fmt: str) -> dt.date:
    """Digits in ``fmt`` (e.g. MMDDYYYY) -> a date; ValueError saying what is wrong.

    Two-digit years pivot at 70: 00-69 are 2000-2069, 70-99 are 1970-1999.
    """
    tokens = date_tokens(fmt)
    if tokens is None:
        raise ValueError(f"bad date format {fmt!r}")
    if len(value) != len(fmt):
        raise ValueError(f"{len(value)} digits, format {fmt.upper()} needs {len(fmt)}")
    parts: dict[str, int] = {}
    pos = 0
    for tok in tokens:
        parts[tok] = int(value[pos : pos + len(tok)])
        pos += len(tok)
    year = parts.get("YYYY")
    if year is None:
        yy = parts["YY"]
        year = 2000 + yy if yy < 70 else 1900 + yy
    month, day = parts["MM"], parts["DD"]
    if not 1 <= month <= 12:
        raise ValueError(f"month {month:02d} is not 01..12")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"day {day:02d} does not exist in {year:04d}-{month:02d}") from None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _length_problem(n: int, spec: FieldSpec) -> str | None:
    if spec.length is not None:
        allowed = [spec.length] if isinstance(spec.length, int) else list(spec.length)
        if n not in allowed:
            want = " or ".join(str(a) for a in allowed)
            return f"{n} digits, expected {want}"
    lo, hi = spec.min_length, spec.max_length
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        want = f"{lo if lo is not None else 0}..{hi if hi is not None else ''}".rstrip(".")
        if hi is None:
            want = f"at least {lo}"
        elif lo is None:
            want = f"at most {hi}"
        return f"{n} digits, expected {want}"
    return None


def digit_count_rule(spec: FieldSpec) -> Callable[[int], bool] | None:
    """The digit counts a field's rules accept (a date: its format's length), None for any: the
    scanner reads a field again within them when its first reading has another count."""
    if spec.type == "date" and spec.format:
        return lambda n: n == len(spec.format or "")
    if spec.length is None and spec.min_length is None and spec.max_length is None:
        return None
    return lambda n: _length_problem(n, spec) is None


def check(value: str, spec: FieldSpec) -> tuple[list[str], str | None]:
    """Every rule ``value`` breaks (empty when it passes) and its typed text (amount, date)."""
    if value == "":
        return ([] if spec.optional else ["empty"]), None
    problems: list[str] = []
    text: str | None = None
    length = _length_problem(len(value), spec)
    if length:
        problems.append(length)
    if spec.regex is not None and re.fullmatch(spec.regex, value) is None:
        problems.append(f"does not match regex {spec.regex}")
    if spec.checksum is not None:
        label, ok = CHECKSUMS[spec.checksum]
        if not ok(value):
            problems.append(f"{label} checksum failed")
    number: float | None = int(value)
    if spec.type == "amount":
        decimals = 2 if spec.decimals is None else spec.decimals
        text = format_amount(value, decimals, spec.thousands or ",", spec.decimal or ".")
        number = int(value) / 10**decimals
    elif spec.type == "date":
        try:
            date = parse_date(value, spec.format or "")
            text = date.isoformat()
            if spec.years is not None and not spec.years[0] <= date.year <= spec.years[1]:
                problems.append(f"year {date.year} outside {spec.years[0]}..{spec.years[1]}")
        except ValueError as exc:
            problems.append(f"not a date ({exc})")
        number = None
    if spec.range is not None and number is not None:
        lo, hi = spec.range
        if not lo <= number <= hi:
            problems.append(f"{_num(number)} outside range {_num(lo)}..{_num(hi)}")
    return problems, text


SEPARATORS = ".,-/"


def string_rule(spec: FieldSpec) -> Callable[[str], bool] | None:
    """What the string reader may read for this field (``text`` as written, separators and all):
    its digits pass the field's length, checksum, range and date rules, and an amount does not
    start or end with a separator or hold two in a row. None when no such rule narrows it.

    Like :func:`repair`, a regex never steers the reading: it may spell out the very value
    the form expects, and fitting the ink to it would report the form, not the ink.
    """
    steering = spec.model_copy(update={"regex": None})
    narrows = (digit_count_rule(spec) is not None or spec.checksum is not None or spec.range is not None
               or spec.type in ("amount", "date"))
    if not narrows:
        return None

    def accept(text: str) -> bool:
        digits = "".join(c for c in text if c.isdigit())
        if not digits:
            return False
        if spec.type == "amount" and (text[0] in SEPARATORS or text[-1] in SEPARATORS
                                      or any(a in SEPARATORS and b in SEPARATORS for a, b in zip(text, text[1:]))):
            return False
        return not check(digits, steering)[0]

    return accept


# A reading that breaks a rule is wrong somewhere. When putting the model's second guess for
# one digit makes it pass, that reading is the likelier one, and it is the one reported (still
# in review, the reason saying what was read). Guesses the model gave less than this are not
# tried: the repair would be the rule choosing the digit, not the ink.
REPAIR_MIN_PROB = 0.01


def _repairable(spec: FieldSpec) -> bool:
    """Only rules that few values pass guide a repair: a check digit, a real date, a range.
    Not a regex, which may spell out the very value expected (the HSF's 0123456789): fitting
    the reading to it would report the form, not the ink. Length: one digit changed keeps it."""
    return spec.checksum is not None or spec.type == "date" or spec.range is not None


def repair(found: Field, spec: FieldSpec) -> tuple[Field, str] | None:
    """The likeliest reading of ``found`` that differs from it in one digit and breaks none of
    ``spec``'s rules, and a note on the change; None when no such reading is worth reporting.

    Likeliest: the largest ratio P(new digit) / P(digit read) of the changed mark, as the
    recognizer gave them (``Digit.probs``). One check digit catches any single misread digit
    (ABA, Luhn, mod 11), and most impossible dates are one misread digit away from a real one.
    """
    if len(found.digits) != len(found.value) or not _repairable(spec):
        return None
    best: tuple[float, int, int] | None = None
    for i, digit in enumerate(found.digits):
        if digit.probs is None:
            return None
        now = max(digit.probs[int(digit.value)], 1e-12)
        for alt, p in enumerate(digit.probs):
            if p < REPAIR_MIN_PROB or str(alt) == digit.value:
                continue
            if best is not None and p / now <= best[0]:
                continue
            value = found.value[:i] + str(alt) + found.value[i + 1 :]
            if not check(value, spec)[0]:
                best = (p / now, i, alt)
    if best is None:
        return None
    _, i, alt = best
    old = found.digits[i]
    assert old.probs is not None
    digits = list(found.digits)
    digits[i] = dataclasses.replace(old, value=str(alt), confidence=float(old.probs[alt]))
    fixed = dataclasses.replace(found, value="".join(d.value for d in digits), digits=digits,
                                confidence=min(d.confidence for d in digits))
    note = (f"digit {i + 1} taken as {alt} ({old.probs[alt]:.2f}), not {old.value} "
            f"({old.confidence:.2f}): the likeliest reading that passes")
    return fixed, note


def apply_rules(found: Field, spec: FieldSpec) -> Field:
    """The field renamed to ``spec.name``, with its rules checked.

    A field already in review (low confidence, not found) stays there, with the rule failures
    added to its reason; a field that breaks a rule goes to review, with the likeliest reading
    one digit away that passes (see :func:`repair`) when there is one.
    """
    problems, text = check(found.value, spec)
    if problems:
        repaired = repair(found, spec)
        if repaired is not None:
            fixed, note = repaired
            _, text = check(fixed.value, spec)
            problems = [f"{'; '.join(problems)} as read ({found.value}); {note}"]
            found = fixed
    reasons = [found.reason] if found.status == "review" and found.reason else []
    reasons += [p for p in problems if p not in reasons]
    status = "review" if (found.status == "review" or problems) else "ok"
    reason = "; ".join(reasons) if reasons else (found.reason if status == "review" else None)
    if status == "review" and not reason:
        reason = f"low confidence ({found.confidence:.2f})"
    return dataclasses.replace(found, name=spec.name, status=status, reason=reason,
                               text=text if text is not None else found.text)
