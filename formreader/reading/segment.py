"""One field's ink -> its digits, with the classifier choosing how to cut and merge.

Pieces of ink rarely map one-to-one onto digits: a 5's top bar comes loose, a 4 breaks in two,
neighbours touch, commas and dashes sit between digits. Rather than guess with geometric rules,
the field is over-segmented into *atoms* (connected components, and slices of components wide
enough to be several digits), every plausible run of neighbouring atoms becomes a candidate
digit, all candidates of a page are classified in one batch, and a shortest-path search picks
the reading whose digits the model is most sure of (:func:`formreader.reading.decode.decode`).
Atoms the model calls "not a digit" (reject class) may be skipped: that is how punctuation and
stray marks drop out.

This module builds the atoms and candidates of a field (:func:`segment_field`);
:mod:`formreader.reading.decode` picks a field's reading from its classified candidates, and
:mod:`formreader.reading.schedule` classifies the candidates of many fields together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from formreader.imaging.clean import components_with_centroids
from formreader.imaging.geometry import MaskRect
from formreader.imaging.normalize import shade_levels, to_mnist, to_mnist_shaded
from formreader.imaging.stats import median

Rect = MaskRect  # the segmenter works in the pixels of one field's mask


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
# A small closed ring is a zero written small, raised or on the line (``2o`` for 20, ``4º``), and
# may be a digit down to this share of the digit height. Dots, commas and ticks are solid.
SMALL_ZERO_HEIGHT = 0.3
# A ring's hole is at least this share of its box (a speck of paper inside a blot is not).
RING_HOLE = 0.12
# Narrowest blob that may be two touching digits, in digit heights (cut_columns). A cramped 21
# written in one stroke is about 0.7 wide and reads as a sure 4 uncut; but a sliced blob can no
# longer be skipped whole (decode), so a letter cut into digit-wide slices is read as digits:
# at 0.6 the development books read 8 more crops right of 4,812, and twice as many of their
# labels that are not numbers (NB, 4a) came out ok.
MIN_CUT_WIDTH = 0.8


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
    rings: frozenset[int] = frozenset()  # atoms that are small zeros (see SMALL_ZERO_HEIGHT)

    @property
    def crops(self) -> np.ndarray:
        if not self.candidates:
            return np.zeros((0, 28, 28), np.float32)
        return np.stack([c.crop for c in self.candidates])


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
    if w < MIN_CUT_WIDTH * digit_height or w < 4:
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
    rings = _small_zeros(atoms, dh)
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
            if rect[3] < MIN_DIGIT_HEIGHT * dh and not (j - i == 1 and (first.whole or i in rings)):
                # Too short to be read as a digit (decode never takes it), and not a whole mark
                # whose reject probability prices skipping it: not worth normalising/classifying.
                continue
            cands.append(Candidate(i, j, rect, shading=shading, atoms=atoms[i:j]))
    return Lattice(atoms, cands, dh, rings=rings)


def _small_zeros(atoms: list[Atom], dh: float) -> frozenset[int]:
    """The atoms that may be a zero written small: rings (:func:`is_ring`) between
    SMALL_ZERO_HEIGHT and MIN_DIGIT_HEIGHT digit heights, at most half of them within the
    columns of a digit-high mark (a 9's or a 6's loop come loose lies over its stroke)."""
    tall = [a.rect for a in atoms if a.rect[3] >= MIN_DIGIT_HEIGHT * dh]
    out = []
    for i, a in enumerate(atoms):
        x, _, w, h = a.rect
        if not SMALL_ZERO_HEIGHT * dh <= h < MIN_DIGIT_HEIGHT * dh:
            continue
        over = max((min(x + w, tx + tw) - max(x, tx) for tx, _, tw, _ in tall), default=0)
        if over <= 0.5 * w and is_ring(a.mask):
            out.append(i)
    return frozenset(out)


def is_ring(mask: np.ndarray, hole: float = RING_HOLE) -> bool:
    """Whether a mark encloses a hole at least ``hole`` of its box: a small 0, not a dot."""
    return has_hole(mask, hole * mask.shape[0] * mask.shape[1])


def has_hole(mask: np.ndarray, least: float) -> bool:
    """Whether a mark (bool, its box) encloses a hole of at least ``least`` pixels."""
    if mask.size == 0:
        return False
    padded = np.pad(mask.astype(np.uint8), 1)
    contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False
    return any(h[3] != -1 and cv2.contourArea(c) >= least for c, h in zip(contours, hierarchy[0]))


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
