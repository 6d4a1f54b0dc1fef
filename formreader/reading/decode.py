"""A field's reading from its classified candidates: the shortest path over its atoms that reads
the digits the model is surest of, skipping marks it calls "not a digit" (:func:`decode`), or
the best such path with a digit count the field's rules accept (:func:`decode_counted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from formreader.reading.segment import MAX_PIECE_GAP, MIN_DIGIT_HEIGHT, Lattice, Rect
from formreader.recognizer.model import REJECT

# Skipping a mark too small to be a digit is cheap but not free, so the halves of a broken digit
# are read together rather than both dropped.
SMALL_MARK_SKIP = 0.5
# A digit-sized mark alone in a comb cell is nearly always the digit the cell asks for, often
# clipped where it crossed a divider: it is dropped only when the model is this sure it is not
# a digit. Otherwise it is read, and its low confidence sends the field to review.
COMB_REJECT = 0.9
# A comb cell asks for one digit, so a mark in it may be shorter than MIN_DIGIT_HEIGHT (a writer
# squeezes a small 2 into the cell) and still be read, if it is at least COMB_MIN_HEIGHT digit
# heights and the model reads it as a digit at least COMB_SMALL_CONF surely. Dots and ticks are
# shorter, and the model rejects dashes and scraps.
COMB_MIN_HEIGHT = 0.35
COMB_SMALL_CONF = 0.9
# Leftovers of box lines, dust on the rulings and stray strokes sit at a field's ends; a
# digit-high mark with digits on both sides is far more often a thin 1 than a scrap, so the
# model's reject probability for it is scaled down by this before it prices skipping it.
INTERIOR_REJECT = 0.25
# A small mark sitting on top of a digit-high mark (overlapping its columns, or within a piece's
# gap of them, and in its upper half) is usually a loose part of that digit: the top bar of a 5
# or a 7, the closing stroke of a 9's loop. Alone it reads as "not a digit", so skipping it was
# nearly free, and the rest of the digit reads as a confident 6, 1 or 0. Skipping such a cap is
# priced at this share of its reject probability, so the whole digit wins unless it reads badly
# (12 fresh sets: 255 wrong fields against 260 at full price, silent errors 59 against 70; 0.25
# read the same four sets alike; caps below a digit as well mended 4 fields and broke 4).
CAP_REJECT = 0.05
_EPS = 1e-7


@dataclass
class DigitRead:
    value: int
    confidence: float
    rect: Rect  # in field-mask pixels
    crop: np.ndarray | None = field(default=None, repr=False, compare=False)  # the 28x28 image read
    # P(0..9) of the crop: what else it may be, for field rules to weigh (validate.repair)
    probs: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass
class Reading:
    """The chosen digits of a field, and how much of its ink was not digits."""

    digits: list[DigitRead] = field(default_factory=list)
    skipped_marks: int = 0  # digit-sized marks the model rejected (letters, scribbles)
    marks: int = 0  # digit-sized marks in the field
    spans: list[tuple[int, int]] = field(default_factory=list)  # each digit's atoms [start, end)
    # The unconstrained reading, when this one was fitted to the field's length rule
    # (read_lattices ``lengths``): the field goes to review saying so.
    fitted_from: str | None = None
    # Faint marks added to the field's ink and read again (formreader.reading.page.reread_faint), and
    # the faint marks still unread, once counted (None: not yet).
    faint_read: int = 0
    faint_left: int | None = None

    @property
    def value(self) -> str:
        return "".join(str(d.value) for d in self.digits)


def decode(lattice: Lattice, probs: np.ndarray) -> Reading:
    """The most probable reading of a field given its candidates' class probabilities (N, 11).

    Shortest path over atom boundaries: a candidate costs -log P(its best digit); skipping a
    whole component costs -log P(reject) (cheap for a comma, dear for a digit; scaled by
    INTERIOR_REJECT for a digit-high mark between digits, by CAP_REJECT for a small mark on
    top of one). Slices of a component cannot be skipped, so a digit is never read from half
    of a blob. A candidate less than MIN_DIGIT_HEIGHT of the digit height is never a digit, and
    skipping it costs at most -log(SMALL_MARK_SKIP) (plus -log(CAP_REJECT) for a cap).
    """
    atoms, cands = lattice.atoms, lattice.candidates
    n = len(atoms)
    reading = Reading()
    if n == 0:
        return reading
    big = _digit_high(lattice)
    reading.marks = int(sum(1 for a, b in zip(atoms, big) if a.whole and b))
    digit_p = probs[:, :REJECT].max(axis=1)
    digit_v = probs[:, :REJECT].argmax(axis=1)
    if lattice.forced:
        for k, c in enumerate(cands):
            small = not big[c.start] and (c.rect[3] < COMB_MIN_HEIGHT * lattice.digit_height
                                          or digit_p[k] < COMB_SMALL_CONF)
            if small or probs[k, REJECT] > COMB_REJECT:  # a stray mark, or a letter
                reading.skipped_marks += int(big[c.start])
                continue
            reading.digits.append(DigitRead(int(digit_v[k]), float(digit_p[k]), c.rect, c.crop,
                                            probs[k, :REJECT]))
            reading.spans.append((c.start, c.end))
        return reading
    tall, skip, by_start = _edge_costs(lattice, probs, big)
    cost = np.full(n + 1, np.inf)
    cost[0] = 0.0
    back: list[tuple[int, int] | None] = [None] * (n + 1)  # (previous node, candidate or -1)
    for i in range(n):
        if not np.isfinite(cost[i]):
            continue
        for k in by_start.get(i, []):
            if not tall[k]:
                continue
            new = cost[i] - np.log(digit_p[k] + _EPS)
            if new < cost[cands[k].end] - 1e-12:
                cost[cands[k].end], back[cands[k].end] = new, (i, k)
        if cost[i] + skip[i] < cost[i + 1] - 1e-12:
            cost[i + 1], back[i + 1] = cost[i] + skip[i], (i, -1)
    node = n
    steps: list[tuple[int, int]] = []
    while node > 0:
        prev, k = back[node]  # type: ignore[misc]
        steps.append((prev, k))
        node = prev
    return _reading_of(reading, lattice, probs, big, steps[::-1])


def _digit_high(lattice: Lattice) -> list[bool]:
    """Which atoms are tall enough to be a digit (MIN_DIGIT_HEIGHT)."""
    return [a.rect[3] >= MIN_DIGIT_HEIGHT * lattice.digit_height for a in lattice.atoms]


def _caps(lattice: Lattice, big: list[bool]) -> list[bool]:
    """Which atoms are small marks on top of a digit-high atom (see CAP_REJECT): whole, not
    digit-high, within MAX_PIECE_GAP digit heights of its columns, and ending above its middle."""
    gap = MAX_PIECE_GAP * lattice.digit_height
    tall = [a.rect for a, b in zip(lattice.atoms, big) if b]
    caps = []
    for a, b in zip(lattice.atoms, big):
        x, y, w, h = a.rect
        caps.append(not b and a.whole and any(
            max(x, tx) - min(x + w, tx + tw) <= gap and y + h <= ty + th / 2.0 for tx, ty, tw, th in tall))
    return caps


def _edge_costs(lattice: Lattice, probs: np.ndarray, big: list[bool]
                ) -> tuple[list[bool], list[float], dict[int, list[int]]]:
    """The path's edges (see :func:`decode`): which candidates may be digits (tall enough), the
    cost of skipping each atom, and the candidates starting at each atom. ``big``: the atoms
    tall enough to be digits."""
    atoms, cands = lattice.atoms, lattice.candidates
    big_at = [i for i, b in enumerate(big) if b]
    single = {c.start: k for k, c in enumerate(cands) if c.end == c.start + 1}
    tall = [c.rect[3] >= MIN_DIGIT_HEIGHT * lattice.digit_height
            or (c.end == c.start + 1 and c.start in lattice.rings) for c in cands]
    by_start: dict[int, list[int]] = {}
    for k, c in enumerate(cands):
        by_start.setdefault(c.start, []).append(k)
    caps = _caps(lattice, big)
    skip = []
    for i in range(len(atoms)):
        if atoms[i].whole and i in single:
            p_skip = probs[single[i], REJECT]
            if big[i] and big_at[0] < i < big_at[-1]:
                p_skip *= INTERIOR_REJECT
            if not big[i]:  # too small to be a digit: skipping costs at most -log(1/2)
                p_skip = max(p_skip, SMALL_MARK_SKIP)
            if caps[i]:
                p_skip *= CAP_REJECT
            skip.append(-np.log(p_skip + _EPS))
        else:  # a slice: only when nothing else reaches past it (never in practice)
            skip.append(-np.log(_EPS) * 2)
    return tall, skip, by_start


def _reading_of(reading: Reading, lattice: Lattice, probs: np.ndarray, big: list[bool],
                steps: list[tuple[int, int]]) -> Reading:
    """``reading`` filled from a path's steps (previous atom, candidate or -1 for a skip)."""
    digit_p = probs[:, :REJECT].max(axis=1)
    digit_v = probs[:, :REJECT].argmax(axis=1)
    cands = lattice.candidates
    for prev, k in steps:
        if k < 0:
            reading.skipped_marks += int(big[prev])
            continue
        reading.digits.append(DigitRead(int(digit_v[k]), float(digit_p[k]), cands[k].rect, cands[k].crop,
                                        probs[k, :REJECT]))
        reading.spans.append((cands[k].start, cands[k].end))
    return reading


def decode_counted(lattice: Lattice, probs: np.ndarray, count_ok: Callable[[int], bool]) -> Reading | None:
    """The most probable reading of a free field among those whose digit count ``count_ok``
    accepts (a field's length rule); None when no path gives such a count.

    The same path costs as :func:`decode`, searched over (atom boundary, digits so far): a
    field read one digit long or short usually holds the right cut or merge at little more cost.
    """
    atoms, cands = lattice.atoms, lattice.candidates
    n = len(atoms)
    if n == 0 or lattice.forced:
        return None
    big = _digit_high(lattice)
    digit_p = probs[:, :REJECT].max(axis=1)
    tall, skip, by_start = _edge_costs(lattice, probs, big)
    cost = np.full((n + 1, n + 1), np.inf)
    cost[0, 0] = 0.0
    back: dict[tuple[int, int], tuple[int, int, int]] = {}
    for i in range(n):
        for m in np.flatnonzero(np.isfinite(cost[i])):
            m = int(m)
            for k in by_start.get(i, []):
                j = cands[k].end
                if not tall[k] or m + 1 > n:
                    continue
                new = cost[i, m] - np.log(digit_p[k] + _EPS)
                if new < cost[j, m + 1] - 1e-12:
                    cost[j, m + 1], back[(j, m + 1)] = new, (i, m, k)
            if cost[i, m] + skip[i] < cost[i + 1, m] - 1e-12:
                cost[i + 1, m], back[(i + 1, m)] = cost[i, m] + skip[i], (i, m, -1)
    ends = [m for m in range(n + 1) if np.isfinite(cost[n, m]) and count_ok(m)]
    if not ends:
        return None
    node, m = n, min(ends, key=lambda e: (cost[n, e], e))
    steps: list[tuple[int, int]] = []
    while node > 0:
        prev, pm, k = back[(node, m)]
        steps.append((prev, k))
        node, m = prev, pm
    reading = Reading(marks=int(sum(1 for a, b in zip(atoms, big) if a.whole and b)))
    return _reading_of(reading, lattice, probs, big, steps[::-1])
