"""One field's ink -> its digits, with the classifier choosing how to cut and merge.

Pieces of ink rarely map one-to-one onto digits: a 5's top bar comes loose, a 4 breaks in two,
neighbours touch, commas and dashes sit between digits. Rather than guess with geometric rules,
the field is over-segmented into *atoms* (connected components, and slices of components wide
enough to be several digits), every plausible run of neighbouring atoms becomes a candidate
digit, all candidates of a page are classified in one batch, and a shortest-path search picks
the reading whose digits the model is most sure of (:func:`decode`). Atoms the model calls
"not a digit" (reject class) may be skipped: that is how punctuation and stray marks drop out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import cv2
import numpy as np

from formreader.imaging.clean import components_with_centroids
from formreader.imaging.normalize import shade_levels, to_mnist, to_mnist_shaded
from formreader.imaging.stats import median
from formreader.recognizer.model import LOOK_AGAIN_BELOW, PAGE_SCREEN_CONFIDENCE, REJECT

if TYPE_CHECKING:  # pragma: no cover
    from formreader.recognizer.model import Recognizer

Rect = tuple[int, int, int, int]  # x, y, w, h in field-mask pixels

MAX_RUN = 6  # atoms merged into one digit at most (a digit broken in pieces and sliced)
# Widest candidate digit made of several pieces, in digit heights: a wide 5 whose flag came
# loose (against 1.4, 1.6 mended 3 of 7,104 fresh fields and broke none; 1.8 mended one more
# but read an amount's comma into the 0 after it).
MAX_DIGIT_WIDTH = 1.6
# Widest single blob of ink still read whole: a bold 0, an 8 with a long tail or a 5 whose flag
# reaches far right are one stroke, and reading them in slices gives two doubtful digits.
MAX_BLOB_WIDTH = 2.0
MAX_PIECE_GAP = 0.12  # widest blank between two pieces of one digit, in digit heights
# Shortest digit, in digit heights: the digits of one number are about the same height, and the
# model, which sees every mark scaled to the same box, would read a comma as a 1 or a 7.
MIN_DIGIT_HEIGHT = 0.5
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
class Atom:
    """A piece of ink: a whole connected component (``whole``) or a vertical slice of one."""

    rect: Rect
    mask: np.ndarray  # bool, rect-sized
    whole: bool
    component: int


class Candidate:
    """A run of atoms [start, end) read as one digit; ``crop`` is its 28x28 MNIST image.

    Given the run's ink (or its atoms, to paint the ink from) instead of its crop, the crop is
    normalised on first use only: a field judged to be words from its single marks never needs
    the crops of its longer runs, and about half of a page's candidates are never classified.
    """

    __slots__ = ("start", "end", "rect", "_crop", "_ink", "_atoms", "_shading")

    def __init__(self, start: int, end: int, rect: Rect, crop: np.ndarray | None = None,
                 ink: np.ndarray | None = None,
                 shading: tuple[np.ndarray, np.ndarray] | None = None,
                 atoms: Sequence[Atom] | None = None) -> None:
        """``shading``: the field's shade levels, to shade ``ink`` with
        (:func:`formreader.imaging.normalize.to_mnist_shaded`). ``atoms``: the run, whose union is
        ``rect``, painted into its ink when the crop is first needed."""
        if crop is None and ink is None and atoms is None:
            raise ValueError("a Candidate needs its crop, its ink or its atoms")
        self.start, self.end, self.rect = start, end, rect
        self._crop, self._ink, self._atoms, self._shading = crop, ink, atoms, shading

    @property
    def crop(self) -> np.ndarray:
        if self._crop is None:
            ink = self._ink
            if ink is None:
                assert self._atoms is not None
                ink, _ = _paint(self._atoms, self.rect)
            if self._shading is None:
                self._crop = to_mnist(ink)
            else:
                x, y, w, h = self.rect
                on, edge = self._shading
                self._crop = to_mnist_shaded(ink, on[y : y + h, x : x + w], edge[y : y + h, x : x + w])
            self._ink = self._atoms = self._shading = None
        return self._crop

    def __repr__(self) -> str:
        return f"Candidate(start={self.start}, end={self.end}, rect={self.rect})"


@dataclass
class Lattice:
    """Everything needed to decode a field once its candidates are classified."""

    atoms: list[Atom]
    candidates: list[Candidate]
    digit_height: float
    forced: bool = False  # comb field: each candidate is one cell, no search
    # A comb whose ink strays across its cells is also read as free handwriting; the reading
    # with as many digits as the comb has cells wins (see read_lattices).
    free: "Lattice | None" = None
    cells: int = 0  # a comb's cell count, empty cells included

    @property
    def crops(self) -> np.ndarray:
        if not self.candidates:
            return np.zeros((0, 28, 28), np.float32)
        return np.stack([c.crop for c in self.candidates])


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


def _union(rects: list[Rect]) -> Rect:
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return x0, y0, x1 - x0, y1 - y0


def _paint(atoms: Sequence[Atom], rect: Rect | None = None) -> tuple[np.ndarray, Rect]:
    """The atoms' ink in their union ``rect`` (found from them when not given), and that rect."""
    if rect is None:
        rect = _union([a.rect for a in atoms])
    out = np.zeros((rect[3], rect[2]), bool)
    for a in atoms:
        x, y, w, h = a.rect
        out[y - rect[1] : y - rect[1] + h, x - rect[0] : x - rect[0] + w] |= a.mask
    return out, rect


def estimate_digit_height(mask: np.ndarray, expected: float) -> float:
    """Height of the digits actually written (writers fill a box anywhere from half to all of
    its height), from the marks at least a third of ``expected`` (the box-derived guess).

    Marks that overlap horizontally are measured together, so a digit broken across its middle
    counts at its full height rather than as two half-height marks.
    """
    return _digit_height(components_with_centroids(mask)[2], expected)


def _digit_height(stats: np.ndarray, expected: float) -> float:
    """:func:`estimate_digit_height` from the mask's component ``stats`` (background first)."""
    spans = sorted((int(x), int(x + w), int(y), int(y + h)) for x, y, w, h, _ in stats[1:])
    clusters: list[list[int]] = []
    for x0, x1, y0, y1 in spans:
        if clusters:
            c = clusters[-1]
            overlap = min(x1, c[1]) - max(x0, c[0])
            if overlap >= 0.5 * min(x1 - x0, c[1] - c[0]):
                c[:] = [min(c[0], x0), max(c[1], x1), min(c[2], y0), max(c[3], y1)]
                continue
        clusters.append([x0, x1, y0, y1])
    h = np.array([c[3] - c[2] for c in clusters], float)
    h = h[h >= expected / 3.0]
    return median(h) if h.size else float(expected)


def cut_columns(mask: np.ndarray, digit_height: float, max_cuts: int = 4) -> list[int]:
    """Where a wide blob of ink may be two or more touching digits: the columns of least ink
    (local minima of the column profile, away from the blob's ends), best first."""
    h, w = mask.shape
    if w < 0.8 * digit_height or w < 4:
        return []
    profile = mask.sum(axis=0).astype(np.float32)
    k = max(1, int(round(0.06 * digit_height)))
    smooth = np.convolve(profile, np.ones(2 * k + 1, np.float32) / (2 * k + 1), mode="same")
    lo, hi = int(0.22 * digit_height), w - int(0.22 * digit_height)
    if hi <= lo:
        return []
    cols = np.arange(max(lo, 1), min(hi, w - 1))  # the local minima, found in one pass
    mid = smooth[cols]
    cand = cols[(mid <= smooth[cols - 1]) & (mid <= smooth[cols + 1])].tolist()
    cand.sort(key=lambda c: (smooth[c], c))
    chosen: list[int] = []
    spacing = 0.2 * digit_height
    for c in cand:
        if all(abs(c - o) >= spacing for o in chosen):
            chosen.append(c)
        if len(chosen) == max_cuts:
            break
    # Evenly spaced cuts as well: two digits pressed together may leave no thin column.
    n = int(round(w / (0.6 * digit_height)))
    for i in range(1, max(n, 2)):
        c = int(round(i * w / max(n, 2)))
        if lo <= c < hi and all(abs(c - o) >= spacing / 2 for o in chosen):
            chosen.append(c)
    return sorted(chosen)


def atoms_of(mask: np.ndarray, digit_height: float) -> list[Atom]:
    """Components of a field's ink, specks dropped, wide ones sliced at candidate cuts,
    ordered left to right by centre."""
    return _atoms(components_with_centroids(mask), digit_height)


def _atoms(components: tuple[int, np.ndarray, np.ndarray, np.ndarray], digit_height: float) -> list[Atom]:
    """:func:`atoms_of` from the mask's :func:`formreader.imaging.clean.components_with_centroids`."""
    n, labels, stats, _ = components
    speck = (0.08 * digit_height) ** 2
    atoms: list[Atom] = []
    for i, (x, y, w, h, area) in enumerate(stats[1:n, :5].tolist(), start=1):
        if area < speck and max(w, h) < 0.15 * digit_height:
            continue
        comp = labels[y : y + h, x : x + w] == i
        cuts = cut_columns(comp, digit_height) if h >= 0.5 * digit_height else []
        if not cuts:  # a whole component: its box is its stats' box, tight on every side
            atoms.append(Atom((x, y, w, h), comp, whole=True, component=i))
            continue
        bounds = [0, *cuts, w]
        for a, b in zip(bounds, bounds[1:]):
            piece = comp[:, a:b]
            rows = np.flatnonzero(piece.any(axis=1))
            if rows.size == 0:
                continue
            piece = piece[rows[0] : rows[-1] + 1]
            atoms.append(Atom((x + a, y + int(rows[0]), b - a, piece.shape[0]), piece,
                              whole=False, component=i))
    atoms.sort(key=lambda a: (a.rect[0] + a.rect[2] / 2.0, a.rect[1]))
    return atoms


def segment_field(mask: np.ndarray, digit_height: float, cells: tuple[Rect, ...] = (),
                  darkness: np.ndarray | None = None,
                  components: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None) -> Lattice:
    """Candidate digits of one field (bool ink mask, lines already removed).

    ``digit_height``: expected digit height in pixels (e.g. 0.7 x the box's inner height); the
    height actually written is measured from the ink. ``cells``: comb cells, one digit each.
    ``darkness``: the field's grey levels as ink darkness (:func:`formreader.imaging.normalize.field_darkness`),
    when the page has them: each candidate's crop is then shaded from them. ``components``: the
    mask's :func:`formreader.imaging.clean.components_with_centroids`, when the caller has them.
    """
    # The mask's components, found once: its digit height, comb cells and atoms all read them.
    if components is None:
        components = components_with_centroids(mask)
    ink = components[0] > 1
    dh = _digit_height(components[2], digit_height) if ink else float(digit_height)
    shading = None if darkness is None else shade_levels(darkness, mask)
    if cells:
        comb = _comb_lattice(components, dh, cells, shading)
        if not _written_in_cells(components[2], dh, cells):
            # Also read as free handwriting, its digit height measured again from the comb's.
            free_dh = _digit_height(components[2], dh) if ink else float(dh)
            comb.free = _free_lattice(components, free_dh, shading)
        return comb
    return _free_lattice(components, dh, shading)


def _free_lattice(components: tuple[int, np.ndarray, np.ndarray, np.ndarray], dh: float,
                  shading: tuple[np.ndarray, np.ndarray] | None) -> Lattice:
    """:func:`segment_field` of a field without comb cells, ``dh`` its measured digit height;
    ``components``: its mask's :func:`formreader.imaging.clean.components_with_centroids`."""
    atoms = _atoms(components, dh)
    cands: list[Candidate] = []
    for i in range(len(atoms)):
        first = atoms[i]
        # The run atoms[i:j] grows by one atom per step: its rect, and whether it is all one blob.
        rect, one_blob = first.rect, True
        for j in range(i + 1, min(i + MAX_RUN, len(atoms)) + 1):
            if j - i > 1:
                prev, new = rect, atoms[j - 1]
                rect = _union([prev, new.rect])
                one_blob = one_blob and new.component == first.component
                if rect[2] > (MAX_BLOB_WIDTH if one_blob else MAX_DIGIT_WIDTH) * dh:
                    break
                # Pieces of one digit overlap or nearly touch; a clear gap separates digits.
                same = new.component == atoms[j - 2].component
                if not same and new.rect[0] - (prev[0] + prev[2]) > MAX_PIECE_GAP * dh:
                    break
            if rect[3] < MIN_DIGIT_HEIGHT * dh and not (j - i == 1 and first.whole):
                # Too short to be read as a digit (decode never takes it), and not a whole mark
                # whose reject probability prices skipping it: not worth normalising/classifying.
                continue
            cands.append(Candidate(i, j, rect, shading=shading, atoms=atoms[i:j]))
    return Lattice(atoms, cands, dh)


# A digit-high mark with less than this share of its width inside one comb cell straddles two.
CELL_FIT = 0.75


def _written_in_cells(stats: np.ndarray, dh: float, cells: tuple[Rect, ...]) -> bool:
    """Whether every digit-high mark (``stats``: the field's connected components, background
    first, as OpenCV gives them) lies within one comb cell.

    Why: writers do not always keep to the comb. Digits written large run across the dividers,
    and neighbours touch across them; reading one digit per cell then fuses halves of two
    digits into one candidate (a cheque date ``09222022`` read ``2220``). Such a field is also
    read as free handwriting, where touching digits are split and each mark may be a digit.
    """
    for x, _, w, h in stats[1:, :4].tolist():
        if h < MIN_DIGIT_HEIGHT * dh:
            continue
        inside = max(max(0, min(x + w, cx + cw) - max(x, cx)) for cx, _, cw, _ in cells)
        if inside < CELL_FIT * w:
            return False
    return True


def _comb_lattice(components: tuple[int, np.ndarray, np.ndarray, np.ndarray], dh: float,
                  cells: tuple[Rect, ...], levels: tuple[np.ndarray, np.ndarray] | None = None) -> Lattice:
    """One candidate per non-empty comb cell: all its marks (bar specks) are one digit.
    ``components``: :func:`formreader.imaging.clean.components_with_centroids` of the field's mask;
    ``levels``: its shade levels, if it is shaded."""
    n, labels, stats, cents = components
    speck = (0.08 * dh) ** 2
    atoms: list[Atom] = []
    cands: list[Candidate] = []
    for cx, cy, cw, ch in cells:
        members = [i for i in range(1, n)
                   if cx <= cents[i][0] < cx + cw and stats[i, cv2.CC_STAT_AREA] >= speck]
        if not members:
            continue
        parts = []
        for i in members:
            x, y, w, h = (int(v) for v in stats[i, :4])
            parts.append(Atom((x, y, w, h), labels[y : y + h, x : x + w] == i, True, i))
        img, rect = _paint(parts)
        k = len(atoms)
        atoms.append(Atom(rect, img, True, members[0]))
        cands.append(Candidate(k, k + 1, rect, ink=img, shading=levels))
    return Lattice(atoms, cands, dh, forced=True, cells=len(cells))


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
    tall = [c.rect[3] >= MIN_DIGIT_HEIGHT * lattice.digit_height for c in cands]
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
                  lengths: Sequence[Callable[[int], bool] | None] | None = None) -> list[Reading | None]:
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
    """
    if any(lat is not None and lat.free is not None for lat in lattices):
        return _read_combs_both_ways(lattices, recognizer, give_up, lengths)
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
    look_again([r for r in out if r is not None and (give_up is None or not give_up(r))], recognizer)
    return out


def look_again(readings: Sequence[Reading], recognizer: "Recognizer") -> None:
    """Every digit read below LOOK_AGAIN_BELOW takes the value and confidence of a second look
    at its crop (:meth:`formreader.recognizer.model.Recognizer.look_again`), all the page's in one call.

    Where the digits are stays as decoded: the second look weighs what a doubtful digit is
    (nearly all misread fields are one whole digit misread), and costs a few crops a page
    where looking again at every doubtful cut and merge would cost dozens. (read_lattices
    leaves out the fields its ``give_up`` accepts as they are: words, not numbers.)
    """
    doubtful = [d for r in readings for d in r.digits if d.confidence < LOOK_AGAIN_BELOW and d.crop is not None]
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
                          lengths: Sequence[Callable[[int], bool] | None] | None = None) -> list[Reading | None]:
    """:func:`read_lattices` for fields where a stray comb also has a free reading: both are
    decoded (in the same model calls) and the one with as many digits as the comb has cells
    wins; if both or neither do, the one nearer that count, the comb's on a tie."""
    strays = [i for i, lat in enumerate(lattices) if lat is not None and lat.free is not None]
    frees = [lattices[i].free for i in strays]  # type: ignore[union-attr]
    combs = [Lattice(lat.atoms, lat.candidates, lat.digit_height, lat.forced) if lat is not None else None
             for lat in lattices]
    both = None if lengths is None else list(lengths) + [lengths[i] for i in strays]
    readings = read_lattices(combs + frees, recognizer, give_up, both)
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
    return Lattice(lattice.atoms, [lattice.candidates[k] for k in which], lattice.digit_height,
                   lattice.forced)


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
