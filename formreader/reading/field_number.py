"""Which marks of a cleaned field image are its number (:func:`select_number`).

A crop holds more than the number: the struck-out number below a correction, the form's print
above its box, a neighbour's stroke, what the ruling finder left of a ruling. The number is the
first line of digit-high writing, top down, in the cell of the line with the most ink, its marks
close together, and the dots, commas and dashes on that line; the rest becomes review reasons
(other lines, marks apart).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from formreader.imaging.clean import components
from formreader.imaging.crop_rulings import remove_lines, straight_runs, stroke_width
from formreader.imaging.stats import median

# Marks at least this share of the tallest mark are digit-high (the rest: dots, dashes, specks).
DIGIT_HIGH = 0.5
# Two marks are on one line of writing when their vertical centres are within this many digit
# heights; a mark further than GROUP_GAP digit heights from the number's marks is not part of it.
SAME_LINE = 0.6
GROUP_GAP = 1.5
# A mark at least this many times as wide as it is high is flat: a dash or a line, not a digit.
FLAT = 2.5
# A ruling's sliver: this many times as tall as the writing, at most SLIVER_WIDTH pen widths wide.
SLIVER_HEIGHT = 1.5
SLIVER_WIDTH = 2.5
# A 1 beside a digit, however tall its up-stroke, stands on that digit's foot line (within
# ONE_FOOT digit heights) and is at most ONE_HEIGHT digit heights high.
ONE_HEIGHT = 2.5
ONE_FOOT = 0.5
# A mark lower than this many pen widths is a dot or a speck, never a digit's height.
DOT_PENS = 2.0
# A line of digit-high writing with at least this share of the inkiest line's ink (area times
# height) is writing of its own: the number, or another line to review. Lighter ones are specks
# and cut-off strokes at the crop's edge.
LINE_INK = 0.25
# Two lines are in different cells when a ruling the cleaning removed runs between them across
# at least this share of their width (a box's top between the form's print and the writing).
CELL_RULING = 0.5
# Two lines that overlap in height by at least this many digit heights, in the same columns,
# are one line of writing in pieces (:func:`_join_broken`).
LINE_OVERLAP = 0.2


@dataclass
class NumberMarks:
    """The ink of a field's number and what else the crop holds."""

    mask: np.ndarray  # bool, the number's marks only (crop size)
    digit_height: float
    notes: list[str] = field(default_factory=list)  # other lines, marks apart: review reasons
    dashes: str = ""  # what a field without digit-high marks holds: "-" per flat mark, left to right
    # The number's marks with the lines its digits stick to, where ``mask`` was freed of those
    # lines (:func:`_unstuck`): what the string reader reads, having learnt underlines and
    # ligatures, which freeing the digits cuts into. None: ``mask`` itself.
    lined: np.ndarray | None = None

    @property
    def string_ink(self) -> np.ndarray:
        """The ink the string reader reads: :attr:`lined`, else :attr:`mask`."""
        return self.mask if self.lined is None else self.lined


def _dashes(stats: np.ndarray) -> str:
    """A ``-`` for each flat mark of a field that holds nothing else."""
    return "-" * max(0, stats.shape[0] - 1)


def _extent(stats: np.ndarray, marks: list[int]) -> tuple[int, int, int, int]:
    """The box around ``marks`` (component indices): x0, y0, x1, y1, the ends exclusive."""
    x, y, w, h = (stats[marks, k] for k in range(4))
    return int(x.min()), int(y.min()), int((x + w).max()), int((y + h).max())


def _centre(stats: np.ndarray, line: list[int]) -> float:
    """The mean vertical centre of a line's marks."""
    return float(np.mean([stats[i, 1] + stats[i, 3] / 2.0 for i in line]))


def _lines_of(stats: np.ndarray, big: np.ndarray, dh: float) -> list[list[int]]:
    """Digit-high marks (component indices) grouped into lines by their vertical centres, top
    down, a line in pieces joined (:func:`_join_broken`)."""
    order = sorted(np.flatnonzero(big) + 1, key=lambda i: stats[i, 1] + stats[i, 3] / 2.0)
    lines: list[list[int]] = []
    for i in order:
        cy = stats[i, 1] + stats[i, 3] / 2.0
        for line in lines:
            if abs(cy - _centre(stats, line)) < SAME_LINE * dh:
                line.append(int(i))
                break
        else:
            lines.append([int(i)])
    return _join_broken(stats, sorted(lines, key=lambda line: _centre(stats, line)), dh)


def _join_broken(stats: np.ndarray, lines: list[list[int]], dh: float) -> list[list[int]]:
    """``lines`` (sorted top down), each merged with the next when they are one line of writing:
    they share columns and overlap in height by at least LINE_OVERLAP digit heights. Why: a
    digit in pieces (a 4 whose stem stands apart from its arm, a 6 whose loop came loose) has
    pieces whose centres are further apart than SAME_LINE, and taken for two lines the first
    "line" was a piece of a digit; lines of writing one above the other do not overlap."""
    out: list[list[int]] = []
    for line in lines:
        if out:
            up = out[-1]
            a0, _, a1, a_bottom = _extent(stats, up)
            b0, b_top, b1, _ = _extent(stats, line)
            if a_bottom - b_top >= LINE_OVERLAP * dh and min(a1, b1) > max(a0, b0):
                out[-1] = up + line
                continue
        out.append(line)
    return out


def _cells_apart(stats: np.ndarray, a: list[int], b: list[int], removed: np.ndarray | None) -> bool:
    """Whether a ruling in ``removed`` runs between lines ``a`` and ``b``: removed ink between
    their centres in at least CELL_RULING of the columns they span together. Columns, not one
    row: the line of a box cut from a turned page runs aslant."""
    if removed is None:
        return False
    top, bottom = sorted((_centre(stats, a), _centre(stats, b)))
    x0, _, x1, _ = _extent(stats, a + b)
    band = removed[int(np.ceil(top)) : int(bottom) + 1, x0:x1]
    return bool(band.size) and float(band.any(axis=0).mean()) >= CELL_RULING


def _number_line(stats: np.ndarray, lines: list[list[int]], removed: np.ndarray | None
                 ) -> tuple[list[int], list[list[int]]]:
    """The number's line (see :func:`select_number`) and the lines of writing: those with at
    least LINE_INK of the inkiest line's ink (area times height)."""
    inks = [float(sum(stats[i, cv2.CC_STAT_AREA] * stats[i, cv2.CC_STAT_HEIGHT] for i in line)) for line in lines]
    most = lines[int(np.argmax(inks))]
    written = [line for line, k in zip(lines, inks) if k >= LINE_INK * max(inks)]
    cell = [line for line in written if line is most or not _cells_apart(stats, line, most, removed)]
    return min(cell, key=lambda line: _centre(stats, line)), written


def _cluster(stats: np.ndarray, line: list[int], dh: float, centre: float,
             bridges: list[int] | None = None) -> tuple[list[int], int, list[int]]:
    """The marks of a line that form one number (gaps below GROUP_GAP digit heights), the group
    with the most ink, nearest ``centre`` on a tie; how many digit-high marks were left; and
    the ``bridges`` in that group.

    ``bridges``: smaller marks on the line (the pieces of a broken or faint digit, a comma)
    that close a gap without counting as marks of their own: a 3 that came out in two halves
    leaves no gap in "618306" that splits it in two numbers. Which of those in the group are a
    digit of their own, :func:`_broken_digit` tells."""
    members = set(line)
    marks = sorted(line + [i for i in (bridges or []) if i not in members], key=lambda i: stats[i, 0])
    groups: list[list[int]] = [[marks[0]]]
    for i in marks[1:]:
        right = _extent(stats, groups[-1])[2]
        if stats[i, 0] - right > GROUP_GAP * dh:
            groups.append([i])
        else:
            groups[-1].append(i)
    split = [([j for j in g if j in members], [j for j in g if j not in members]) for g in groups]

    def key(g: tuple[list[int], list[int]]) -> tuple[float, float]:
        x0, _, x1, _ = _extent(stats, g[0])
        return (float(sum(stats[j, cv2.CC_STAT_AREA] for j in g[0])), -abs((x0 + x1) / 2.0 - centre))

    best, pieces = max((g for g in split if g[0]), key=key)
    return best, len(line) - len(best), pieces


def _broken_digit(stats: np.ndarray, pieces: list[int], dh: float) -> list[int]:
    """Of the ``pieces`` a number's group holds beyond its digit-high marks, those that make a
    digit: all of them when, together, they are at least two and DIGIT_HIGH of ``dh`` high. Why:
    a faint first digit that came out in pieces (a 3 in three) is the number's, and the field
    read without it is a digit short and sure; one short straight piece beside the number is
    what the ruling finder left of a ruling, and read as a 1 it adds a digit."""
    if len(pieces) < 2:
        return []
    _, top, _, bottom = _extent(stats, pieces)
    return pieces if bottom - top >= DIGIT_HIGH * dh else []


def _written_like_a_one(stats: np.ndarray, digits: np.ndarray, ref: float) -> np.ndarray:
    """Per mark (component ``k + 1``): whether it stands on the foot line of one of ``digits``
    (a mask over the marks) within GROUP_GAP of it, and is at most ONE_HEIGHT times ``ref``
    (the writing's height) high, as a 1 written with a long up-stroke does."""
    x, y, w, h = (stats[1:, k].astype(float) for k in range(4))
    foot = y + h
    j = np.flatnonzero(digits)
    gap = np.maximum(x[j][None, :] - (x + w)[:, None], x[:, None] - (x[j] + w[j])[None, :])
    on_foot = np.abs(foot[j][None, :] - foot[:, None]) <= ONE_FOOT * ref
    return (h <= ONE_HEIGHT * ref) & ((gap <= GROUP_GAP * ref) & on_foot).any(axis=1)


def _flat_marks(labels: np.ndarray, stats: np.ndarray, heights: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Per mark, whether it is flat: dashes, strokes through a field, what is left of an
    underline are never a digit's height (a field of dashes alone has no number; its text
    keeps the dash). Digits joined in one stroke are as wide, but are writing (:func:`_joined_digits`)."""
    flat = widths >= FLAT * heights
    if flat.any() and not flat.all():
        flat &= ~_joined_digits(labels, stats, flat, heights)
    return flat


def _joined_digits(labels: np.ndarray, stats: np.ndarray, flat: np.ndarray, heights: np.ndarray,
                   run: float = 1.5) -> np.ndarray:
    """Per mark, whether a flat mark is digits written in one stroke: as high as the other
    marks' writing (DIGIT_HIGH of the tallest), with no straight horizontal run ``run`` times
    that high. Why: "000" of an amount or "23" joined by a ligature is as wide as a dash of the
    same height, and taken for a line it was dropped, the field read digits short; a line the
    digits stick to (an underline through their feet) has the long straight run."""
    ref = float(heights[~flat].max())
    length = int(round(run * ref))
    out = np.zeros(flat.shape, bool)
    for k in np.flatnonzero(flat & (heights >= DIGIT_HIGH * ref)):
        x, y, w, h = (int(v) for v in stats[k + 1, :4])
        mark = labels[y : y + h, x : x + w] == k + 1
        out[k] = w < length or not straight_runs(mark, (length,), True)[0].any()
    return out


def _slivers(stats: np.ndarray, heights: np.ndarray, widths: np.ndarray, pen: float) -> np.ndarray:
    """Per mark, whether it is a sliver: a piece of a ruling left by the line finder (a worn
    column line, the shadow of the page's edge), thin (a straight upright line, at most
    SLIVER_WIDTH pen widths across; a 1 or a 4 leans, and its box is wider) and far taller than
    the writing. The writing's height is measured on the marks that are not thin and are
    digit-high beside the tallest of them (not print, specks or a 5's loose bar): measured
    beside the tallest mark of all, a long sliver would make every digit of a small number
    count as print, and itself the number. A full stop or a speck (under DOT_PENS pen widths
    high) never measures the writing: beside it, the 1 of "1." would be a sliver. A thin mark
    standing on the foot line of a digit next to it, at most ONE_HEIGHT times its height, is a
    1 written with a long up-stroke."""
    thin = widths <= SLIVER_WIDTH * pen
    sized = heights >= DOT_PENS * pen
    stout = heights[~thin & sized]
    stout = stout[stout >= DIGIT_HIGH * stout.max()] if stout.size else stout
    ref = median(stout) if stout.size else median(heights[sized]) if sized.any() else median(heights[heights > 0])
    sliver = thin & (heights > SLIVER_HEIGHT * ref)
    if sliver.any():
        sliver &= ~_written_like_a_one(stats, sized & ~sliver & (heights >= DIGIT_HIGH * ref), ref)
    return sliver


def _on_band(stats: np.ndarray, line: list[int], big: np.ndarray, sliver: np.ndarray, dh: float,
             least: float = 0.2) -> list[int]:
    """The marks that are not digit-high, no sliver, at least ``least`` of a digit high, and sit
    within the band of ``line``'s marks (its top to its bottom): pieces of its digits."""
    _, y0, _, y1 = _extent(stats, line)
    k = np.flatnonzero(~big & ~sliver & (stats[1:, cv2.CC_STAT_HEIGHT] >= least * dh)) + 1
    return [int(i) for i in k if stats[i, 1] >= y0 - 0.2 * dh and stats[i, 1] + stats[i, 3] <= y1 + 0.2 * dh]


def select_number(mask: np.ndarray, unstick: bool = True, removed: np.ndarray | None = None) -> NumberMarks:
    """The marks that make up the crop's number: the first line of digit-high writing, top
    down, with at least LINE_INK of the inkiest line's ink and in that line's cell, its marks
    within GROUP_GAP digit heights of each other, and the small marks (dots, commas, dashes)
    that sit on that line between or just after them. The first line, not the inkiest: a number
    corrected by hand is struck out and the right one written above it, smaller and lighter than
    the struck one with its stroke, and a field is read top down. In the inkiest line's cell
    (``removed``: the rulings the cleaning took out, :func:`_cells_apart`): the print a form puts
    above a box is the first line of a crop cut with a margin. Other lines are a review reason
    either way.

    ``unstick``: when digits are stuck to a line as high as the writing (an underline through
    their feet), look again without the lines' straight runs (:func:`_unstuck`), and take that
    when it frees them."""
    w = mask.shape[1]
    if not mask.any():
        return NumberMarks(np.zeros_like(mask), 0.0)
    n, labels, stats = components(mask)
    if n <= 1:
        return NumberMarks(np.zeros_like(mask), 0.0)
    heights = stats[1:, cv2.CC_STAT_HEIGHT].astype(float)
    widths = stats[1:, cv2.CC_STAT_WIDTH].astype(float)
    flat = _flat_marks(labels, stats, heights, widths)
    heights = np.where(flat, 0.0, heights)
    if not heights.any():
        return NumberMarks(np.zeros_like(mask), 0.0, dashes=_dashes(stats))
    sliver = _slivers(stats, heights, widths, stroke_width(mask))
    if sliver.any() and not sliver.all():
        heights = np.where(sliver, 0.0, heights)
    big = heights >= DIGIT_HIGH * float(heights.max())
    dh = median(heights[big])
    lines = _lines_of(stats, big, dh)
    main, written = _number_line(stats, lines, removed)
    chosen, apart, pieces = _cluster(stats, main, dh, w / 2.0, _on_band(stats, main, big, sliver, dh))
    pieces = _broken_digit(stats, pieces, dh)
    others = len(written) - 1
    dh = median(stats[chosen, cv2.CC_STAT_HEIGHT].astype(float))
    # The band of the number's line and its extent, widened for small marks beside it.
    _, y0, _, y1 = _extent(stats, chosen)
    x0, _, x1, _ = _extent(stats, chosen + pieces)
    x0, x1 = x0 - 0.5 * dh, x1 + 1.0 * dh
    keep = np.zeros(n, bool)
    keep[chosen + pieces] = True
    for i in range(1, n):
        if keep[i] or big[i - 1]:
            continue
        x, y, cw, ch = (int(v) for v in stats[i, :4])
        cy = y + ch / 2.0
        # Any mark short of digit-high (half the tallest mark) may be a small one: a digit
        # written half-size after the number (cents, a raised digit) is read or reported,
        # never dropped unseen.
        small = not sliver[i - 1] and cw <= 1.5 * dh  # no ruling, no line
        if small and x >= x0 and x + cw <= x1 and y0 - 0.3 * dh <= cy <= y1 + 0.3 * dh:
            keep[i] = True
    stuck_marks = _stuck_lines(stats, flat, dh, (x0, y0, x1, y1))
    stuck = len(stuck_marks)
    if stuck and unstick:
        again = _unstuck(mask, dh, removed)
        if again is not None:
            keep[stuck_marks] = True
            return replace(again, lined=keep.take(labels.astype(np.intp)))
    notes = []
    if others:
        notes.append(f"{others} other line(s) of writing in the image")
    if apart:
        notes.append(f"{apart} mark(s) apart from the number")
    if stuck:
        notes.append(f"{stuck} line(s) with writing stuck to them")
    return NumberMarks(keep.take(labels.astype(np.intp)), float(dh), notes)


def _stuck_lines(stats: np.ndarray, flat: np.ndarray, dh: float,
                 extent: tuple[float, float, float, float]) -> list[int]:
    """The flat marks as high as writing where they pass the number (``extent``: x0, y0, x1, y1): a
    digit stuck to a line the cleaning left (an underline, a box's side or bottom on a skewed
    crop) is in them, and the digits read without them may be one short."""
    x0, y0, x1, y1 = extent
    return [int(i) for i in np.flatnonzero(flat) + 1
            if stats[i, 3] >= DIGIT_HIGH * dh and stats[i, 1] < y1 and stats[i, 1] + stats[i, 3] > y0
            and stats[i, 0] < x1 and stats[i, 0] + stats[i, 2] > x0]


def _unstuck(mask: np.ndarray, dh: float, removed: np.ndarray | None) -> NumberMarks | None:
    """The number of ``mask`` with its underlines taken out (:func:`_without_underlines`), when
    that frees the digits stuck to them; None when it does not."""
    freed = _without_underlines(mask, dh)
    if freed is None:
        return None
    again = select_number(freed, unstick=False, removed=removed)
    if again.digit_height <= 0 or any(n.endswith("stuck to them") for n in again.notes):
        return None
    return again


def _without_underlines(mask: np.ndarray, dh: float, length: float = 1.5) -> np.ndarray | None:
    """``mask`` without its straight horizontal runs at least ``length`` digit heights long
    (strokes crossing them kept), or None when it has none. Why: an underline shorter than
    half the crop, or a baseline the digits sit on, is no ruling to the cleaning, and the digits
    it joins came out as one flat mark, not read."""
    h_length = min(1.0, length * dh / max(1, mask.shape[1]))
    kept, lines = remove_lines(mask, h_length=h_length, v_length=2.0)
    return kept if lines.any() else None
