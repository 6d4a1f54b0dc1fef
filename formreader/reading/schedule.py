"""Which candidates of many fields the model reads, and when: the whole blobs of every field
first, all in one call, then the cuts and merges around the digits left in doubt, then what a
field's length rule asks for, and a second look at the doubtful digits (:func:`read_lattices`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from formreader.reading.decode import Reading, decode, decode_counted
from formreader.reading.segment import Candidate, Lattice, Rect, segment_field
from formreader.recognizer.model import LOOK_AGAIN_BELOW, PAGE_SCREEN_CONFIDENCE, REJECT

if TYPE_CHECKING:  # pragma: no cover
    from formreader.recognizer.model import Recognizer


# A whole blob read as a digit at least this surely, and no wider than SETTLED_WIDTH digit
# heights (wider may be two touching digits), is settled: the cuts and merges around it are
# classified and searched only when a neighbour is in doubt.
SETTLED_CONF = 0.99
SETTLED_WIDTH = 1.2


def _is_blob(lattice: Lattice, cand: Candidate) -> bool:
    """Whether a candidate is exactly one whole connected component (all of its slices)."""
    run = lattice.atoms[cand.start : cand.end]
    comp = run[0].component
    if any(a.component != comp for a in run):
        return False
    before = cand.start == 0 or lattice.atoms[cand.start - 1].component != comp
    after = cand.end == len(lattice.atoms) or lattice.atoms[cand.end].component != comp
    return before and after


def _doubtful_atoms(lattice: Lattice, reading: Reading) -> set[int]:
    """The atoms a blob reading leaves in doubt: those read in no digit (a skipped piece may be
    half of a broken digit), or in a digit below SETTLED_CONF or wider than SETTLED_WIDTH."""
    covered: set[int] = set()
    doubt: set[int] = set()
    for d, (start, end) in zip(reading.digits, reading.spans):
        covered.update(range(start, end))
        if d.confidence < SETTLED_CONF or d.rect[2] > SETTLED_WIDTH * lattice.digit_height:
            doubt.update(range(start, end))
    return doubt | (set(range(len(lattice.atoms))) - covered)


def read_lattices(lattices: list[Lattice | None], recognizer: "Recognizer",
                  give_up: Callable[[Reading], bool] | None = None,
                  lengths: Sequence[Callable[[int], bool] | None] | None = None,
                  look_again_below: float = LOOK_AGAIN_BELOW) -> list[Reading | None]:
    """Decode many fields (e.g. all of a page), classifying as few candidates as need be.

    Most handwritten digits are separate and clear: one blob of ink, one digit. So first every
    field is read from its whole blobs alone, all fields in one model call. Where that leaves
    doubt (a digit below SETTLED_CONF, a piece read in no digit, a blob wide enough to be two
    digits), the other candidates (cuts, merges) touching the doubtful atoms or their
    neighbours are classified, all fields again in one call, and the field is searched over
    every candidate classified. On a form page this classifies about half the crops a full
    search would, and reads the same. ``give_up``: a field whose blob reading it accepts (e.g.
    plainly words, not a number) keeps that reading unsearched. None for a field without a
    lattice or without candidates.

    ``lengths``: per field, the digit counts its rules accept (None: any). A free field read
    with another count has every candidate classified and is read again, constrained to those
    counts (:func:`decode_counted`); the reading says it was (``fitted_from``).

    ``look_again_below``: digits read below it have the second look (:func:`look_again`).
    """
    if any(lat is not None and lat.free is not None for lat in lattices):
        return _read_combs_both_ways(lattices, recognizer, give_up, lengths, look_again_below)
    first: list[list[int]] = []
    for lat in lattices:
        if lat is None:
            first.append([])
        elif lat.forced:
            first.append(list(range(len(lat.candidates))))
        else:
            first.append([k for k, c in enumerate(lat.candidates) if _is_blob(lat, c)])
    probs: list[np.ndarray | None] = [None if lat is None else np.full((len(lat.candidates), REJECT + 1), np.nan, np.float32)
                                      for lat in lattices]
    _classify_into(lattices, first, probs, recognizer)
    out: list[Reading | None] = []
    more: list[list[int]] = []
    for lat, ks, pr in zip(lattices, first, probs):
        out.append(None)
        more.append([])
        if lat is None or not lat.candidates:
            continue
        assert pr is not None
        out[-1] = reading = decode(_sub(lat, ks), pr[ks])
        if lat.forced or (give_up is not None and give_up(reading)):
            continue
        doubt = _doubtful_atoms(lat, reading)
        if reading.digits and not doubt:
            continue
        zone = doubt | {i - 1 for i in doubt} | {i + 1 for i in doubt}
        known = set(ks)
        more[-1] = [k for k, c in enumerate(lat.candidates)
                    if k not in known and any(i in zone for i in range(c.start, c.end))]
    _classify_into(lattices, more, probs, recognizer)
    for i, (lat, ks, pr) in enumerate(zip(lattices, more, probs)):
        if ks:
            assert lat is not None and pr is not None
            seen = sorted(first[i] + ks)
            out[i] = decode(_sub(lat, seen), pr[seen])
    if lengths is not None:
        _fit_lengths(lattices, out, [sorted(a + b) for a, b in zip(first, more)], probs, recognizer, lengths)
    look_again([r for r in out if r is not None and (give_up is None or not give_up(r))], recognizer,
               look_again_below)
    return out


def look_again(readings: Sequence[Reading], recognizer: "Recognizer", below: float = LOOK_AGAIN_BELOW) -> None:
    """Every digit read below ``below`` takes the value and confidence of a second look
    at its crop (:meth:`formreader.recognizer.model.Recognizer.look_again`), all the page's in one call.

    Where the digits are stays as decoded: the second look weighs what a doubtful digit is
    (nearly all misread fields are one whole digit misread), and costs a few crops a page
    where looking again at every doubtful cut and merge would cost dozens. (read_lattices
    leaves out the fields its ``give_up`` accepts as they are: words, not numbers.)
    """
    doubtful = [d for r in readings for d in r.digits if d.confidence < below and d.crop is not None]
    if not doubtful:
        return
    probs = recognizer.look_again(np.stack([d.crop for d in doubtful]))
    for d, p in zip(doubtful, probs[:, :REJECT]):
        d.value, d.confidence, d.probs = int(p.argmax()), float(p.max()), p


def _fit_lengths(lattices: list[Lattice | None], out: list[Reading | None], seen: list[list[int]],
                 probs: list[np.ndarray | None], recognizer: "Recognizer",
                 lengths: Sequence[Callable[[int], bool] | None]) -> None:
    """Read again, within their length rules, the free fields read with a digit count the rules
    refuse: their remaining candidates in one model call, then :func:`decode_counted`."""
    misfits = [i for i, (lat, reading, ok) in enumerate(zip(lattices, out, lengths))
               if lat is not None and not lat.forced and reading is not None and ok is not None
               and not ok(len(reading.digits))]
    if not misfits:
        return
    rest: list[list[int]] = [[] for _ in lattices]
    for i in misfits:
        lat = lattices[i]
        assert lat is not None
        known = set(seen[i])
        rest[i] = [k for k in range(len(lat.candidates)) if k not in known]
    _classify_into(lattices, rest, probs, recognizer)
    for i in misfits:
        lat, pr, ok, reading = lattices[i], probs[i], lengths[i], out[i]
        assert lat is not None and pr is not None and ok is not None and reading is not None
        every = list(range(len(lat.candidates)))
        fitted = decode_counted(_sub(lat, every), pr[every], ok)
        if fitted is not None:
            fitted.fitted_from = reading.value
            out[i] = fitted


def _read_combs_both_ways(lattices: list[Lattice | None], recognizer: "Recognizer",
                          give_up: Callable[[Reading], bool] | None,
                          lengths: Sequence[Callable[[int], bool] | None] | None = None,
                          look_again_below: float = LOOK_AGAIN_BELOW) -> list[Reading | None]:
    """:func:`read_lattices` for fields where a stray comb also has a free reading: both are
    decoded (in the same model calls) and the one with as many digits as the comb has cells
    wins; if both or neither do, the one nearer that count, the comb's on a tie."""
    strays = [i for i, lat in enumerate(lattices) if lat is not None and lat.free is not None]
    frees = [lattices[i].free for i in strays]  # type: ignore[union-attr]
    combs = [Lattice(lat.atoms, lat.candidates, lat.digit_height, lat.forced) if lat is not None else None
             for lat in lattices]
    both = None if lengths is None else list(lengths) + [lengths[i] for i in strays]
    readings = read_lattices(combs + frees, recognizer, give_up, both, look_again_below)
    out = readings[: len(lattices)]
    for i, free in zip(strays, readings[len(lattices):]):
        cells = lattices[i].cells  # type: ignore[union-attr]
        comb = out[i]
        miss = [abs(len(r.digits) - cells) if r is not None else cells for r in (comb, free)]
        if miss[1] < miss[0]:
            out[i] = free
    return out


def _sub(lattice: Lattice, which: list[int]) -> Lattice:
    """The lattice with only the candidates ``which`` (those classified so far)."""
    return dataclasses.replace(lattice, candidates=[lattice.candidates[k] for k in which], free=None, cells=0)


def _classify_into(lattices: list[Lattice | None], which: list[list[int]], probs: list[np.ndarray | None],
                   recognizer: "Recognizer") -> None:
    """Classify the chosen candidates of every lattice in one model call, filling ``probs``."""
    crops = [np.stack([lat.candidates[k].crop for k in ks]) for lat, ks in zip(lattices, which)
             if lat is not None and ks]
    if not crops:
        return
    _, p = recognizer.classify(np.concatenate(crops), screen_confidence=PAGE_SCREEN_CONFIDENCE)
    start = 0
    for lat, ks, pr in zip(lattices, which, probs):
        if lat is None or not ks:
            continue
        assert pr is not None
        pr[ks] = p[start : start + len(ks)]
        start += len(ks)


def read_region(mask: np.ndarray, recognizer: "Recognizer", digit_height: float,
                cells: tuple[Rect, ...] = (), darkness: np.ndarray | None = None) -> Reading:
    """Digits of one arbitrary field region (e.g. a template zone): segment, classify, decode.

    For many regions at once, build their lattices with :func:`segment_field` and read them
    together with :func:`read_lattices`, as :func:`formreader.reading.page.read_page` does.
    """
    reading = read_lattices([segment_field(mask, digit_height, cells, darkness)], recognizer)[0]
    return reading if reading is not None else Reading()
