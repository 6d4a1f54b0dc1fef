"""Named fields of a known form: registration to the template, then zones or the n-th box.

A pipeline names fields in one of three ways: a zone (a rectangle in coordinates relative to
the form), the n-th ruled box in reading order, or the n-th number the scanner finds. Zones are
relative to a *frame* measured on each page - the extent of the form's long horizontal rulings,
or the centres of its four corner marks - not to the paper, so a page scanned shifted or scaled
by a few percent (plus the skew the cleaner removes) still puts each zone on its field. The box
index is for forms whose box positions vary with their content (the NIST HSF form sizes each
box to its printed prompt) but whose box count and order do not.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import cv2
import numpy as np

from formreader.config import FieldSpec, Layout, Pipeline
from formreader.imaging.boxes import find_boxes
from formreader.imaging.clean import CleanPage, clean_page
from formreader.imaging.combs import comb_dividers
from formreader.imaging.fields import box_region
from formreader.imaging.geometry import Frame, WorkRect, source_to_work, work_to_source
from formreader.imaging.layout import choose_layout
from formreader.imaging.regions import Box, FieldRegion, box_lines
from formreader.imaging.rulings import line_masks
from formreader.reading import page as page_reader
from formreader.reading.decode import Reading
from formreader.reading.field_read import read_field_images
from formreader.reading.page import field_from_reading, field_lattice, reread_faint, with_string_reading
from formreader.reading.schedule import read_lattices
from formreader.reading.segment import estimate_digit_height
from formreader.recognizer.model import Recognizer
from formreader.results import Field, ScanOptions
from formreader.rules.validate import digit_count_rule, string_rule

Rect = WorkRect  # every rectangle here is in working-page pixels
RULING_MIN_FRAC = 0.04  # a ruling that frames the form is at least this share of the page width
MARK_FILL = 0.85  # a corner mark is a solid square: ink fills this share of its bounding box


def lines_frame(mask: np.ndarray) -> Frame | None:
    """Extent of the page's long horizontal rulings (box tops and bottoms, writing lines).

    Horizontal rulings alone fix both axes: their ends are the boxes' left and right sides and
    the first and last are the form's top and bottom. Short runs (letters, strokes) are ignored.
    """
    horiz, _ = line_masks(mask)
    n, _, stats, _ = cv2.connectedComponentsWithStats(horiz, connectivity=8)
    long = stats[1:][stats[1:, cv2.CC_STAT_WIDTH] >= RULING_MIN_FRAC * mask.shape[1]]
    if len(long) < 2:
        return None
    x0 = float(long[:, cv2.CC_STAT_LEFT].min())
    x1 = float((long[:, cv2.CC_STAT_LEFT] + long[:, cv2.CC_STAT_WIDTH]).max())
    y0 = float(long[:, cv2.CC_STAT_TOP].min())
    y1 = float((long[:, cv2.CC_STAT_TOP] + long[:, cv2.CC_STAT_HEIGHT]).max())
    if x1 - x0 < 0.1 * mask.shape[1] or y1 - y0 < 0.05 * mask.shape[0]:
        return None
    return Frame(x0, y0, x1, y1)


def marks_frame(mask: np.ndarray) -> Frame | None:
    """Centres of the four solid square registration marks nearest the page corners."""
    n, _, stats, cents = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    H, W = mask.shape
    side_min, side_max = 0.008 * max(H, W), 0.06 * min(H, W)
    marks = []
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if side_min <= w <= side_max and side_min <= h <= side_max and 0.7 <= w / h <= 1.4 \
                and area >= MARK_FILL * w * h:
            marks.append(cents[i])
    if len(marks) < 4:
        return None
    pts = np.array(marks, float)
    corners = [(0, 0), (W, 0), (0, H), (W, H)]
    chosen = [pts[np.argmin(np.hypot(pts[:, 0] - cx, pts[:, 1] - cy))] for cx, cy in corners]
    xs, ys = [p[0] for p in chosen], [p[1] for p in chosen]
    frame = Frame(float(np.mean(xs[0::2])), float(np.mean(ys[:2])), float(np.mean(xs[1::2])), float(np.mean(ys[2:])))
    if frame.x1 - frame.x0 < 0.3 * W or frame.y1 - frame.y0 < 0.3 * H:
        return None
    return frame


def register(mask: np.ndarray, method: str) -> tuple[Frame, str | None]:
    """The frame for ``method`` ('lines', 'marks', 'none'), and why registration failed if it did
    (then the whole page is the frame and every field goes to review)."""
    page = Frame(0.0, 0.0, float(mask.shape[1]), float(mask.shape[0]))
    if method == "none":
        return page, None
    frame = lines_frame(mask) if method == "lines" else marks_frame(mask)
    if frame is None:
        what = "form rulings" if method == "lines" else "four corner marks"
        return page, f"page not registered: no {what} found"
    return frame, None


def _inside(rect: Rect, frame: Frame, region: Sequence[float] | None) -> bool:
    if region is None:
        return True
    cx, cy = frame.centre_of(WorkRect(rect))
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


def _overlap(a: Rect, b: Rect) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0)


def zone_region(mask: np.ndarray, boxes: list[Box], rulings: np.ndarray, zone: Rect) -> FieldRegion | None:
    """The field at a zone: the ruled box centred in it if there is one (its rulings removed the
    box way), else the free ink whose marks are centred in it, rulings subtracted."""
    x, y, w, h = zone
    inside = [b for b in boxes if x <= b.outer[0] + b.outer[2] / 2 <= x + w and y <= b.outer[1] + b.outer[3] / 2 <= y + h]
    if inside:
        return box_region(mask, max(inside, key=lambda b: _overlap(b.outer, zone)))
    ink = (mask.astype(bool) & ~rulings.astype(bool)).astype(np.uint8)
    n, labels, stats, cents = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = [i for i in range(1, n) if x <= cents[i][0] <= x + w and y <= cents[i][1] <= y + h]
    if not keep:
        return None
    x0 = int(min(stats[i, 0] for i in keep))
    y0 = int(min(stats[i, 1] for i in keep))
    x1 = int(max(stats[i, 0] + stats[i, 2] for i in keep))
    y1 = int(max(stats[i, 1] + stats[i, 3] for i in keep))
    sub = np.isin(labels[y0:y1, x0:x1], np.array(keep))
    dh = estimate_digit_height(sub, 0.6 * h)
    return FieldRegion(kind="free", bbox=(x0, y0, x1 - x0, y1 - y0), mask=sub, origin=(x0, y0), digit_height=dh)


def comb_box(horiz: np.ndarray, zone: Rect, cells: int, ink: np.ndarray | None = None) -> Box | None:
    """A comb of ``cells`` equal cells in a zone, from its top and bottom rulings.

    Handwriting that crosses the dividers splits or merges the holes a generic box finder sees;
    the two long horizontal rulings survive it. The pair chosen is the widest one whose lines
    span the same columns and whose spacing suits cells about as high as they are wide.
    Given the page's ``ink``, the dividers actually drawn are located too (see
    :func:`comb_dividers`), so that only they are erased and not every column at a cell edge.
    """
    x, y, w, h = zone
    sub = horiz[max(y, 0) : y + h, max(x, 0) : x + w]
    n, _, st, _ = cv2.connectedComponentsWithStats(sub, connectivity=8)
    lines = [st[i] for i in range(1, n) if st[i, cv2.CC_STAT_WIDTH] >= 0.2 * w]
    best: tuple[int, np.ndarray, np.ndarray] | None = None
    for a in lines:
        for b in lines:
            if b[1] <= a[1]:
                continue
            left, right = max(a[0], b[0]), min(a[0] + a[2], b[0] + b[2])
            common = right - left
            if common < 0.9 * max(a[2], b[2]):
                continue
            ratio = (b[1] - a[1]) / (common / cells)
            if 0.6 <= ratio <= 2.5 and (best is None or common > best[0]):
                best = (int(common), a, b)
    if best is None:
        return None
    _, a, b = best
    x0, x1 = int(min(a[0], b[0])) + max(x, 0), int(max(a[0] + a[2], b[0] + b[2])) + max(x, 0)
    top, bottom = int(a[1]) + max(y, 0), int(b[1] + min(b[3], 3 * max(1, round(b[4] / b[2])) + 2)) + max(y, 0)
    # A ruling left a pixel or two off horizontal by deskewing spans more rows than it is
    # thick: the band to clear is the component's full height (capped, in case a stroke along
    # the line joined it), the side thickness its mean (area / length).
    mean_top, mean_bot = max(1, int(round(a[4] / a[2]))), max(1, int(round(b[4] / b[2])))
    t_top = int(min(a[3], 3 * mean_top + 2))
    t_bot = int(min(b[3], 3 * mean_bot + 2))
    t = max(1, (mean_top + mean_bot + 1) // 2)
    inner_y, inner_h = top + t_top, bottom - top - t_top - t_bot
    if inner_h < 4:
        return None
    pitch = (x1 - x0) / cells
    half = (t + 1) // 2
    rects = []
    for i in range(cells):
        left = x0 + t if i == 0 else int(round(x0 + i * pitch)) + half
        right = x1 - t if i == cells - 1 else int(round(x0 + (i + 1) * pitch)) - half
        rects.append((left, inner_y, max(right - left, 1), inner_h))
    inner = (x0 + t, inner_y, x1 - x0 - 2 * t, inner_h)
    sides = (t_top, t_bot, t, t)
    dividers = comb_dividers(ink, inner, sides, cells) if ink is not None else ()
    return Box(outer=(x0, top, x1 - x0, bottom - top), inner=inner, cells=tuple(rects), sides=sides,
               dividers=dividers)


def long_rulings(horiz: np.ndarray, vert: np.ndarray) -> np.ndarray:
    """Only the rulings far longer than any handwritten stroke (writing lines, box sides
    spanning a form), to subtract from free ink: the page-level line masks also hold the
    straight strokes of digits (a 1, the bar of a 7), which must stay."""
    H, W = horiz.shape
    out = np.zeros_like(horiz)
    for lines, axis, limit in ((horiz, cv2.CC_STAT_WIDTH, 0.1 * W), (vert, cv2.CC_STAT_HEIGHT, 0.15 * H)):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(lines, connectivity=8)
        keep = np.zeros(n, bool)
        keep[1:] = stats[1:, axis] >= limit
        out |= keep[labels].astype(out.dtype)
    return out


def _empty(name: str, bbox: Rect, reason: str | None) -> Field:
    # Not found = value "" (validation then says "empty", or accepts it for an optional field);
    # a structural problem (no such box, no registration) is a review reason of its own.
    return Field(name=name, value="", confidence=0.0, status="review" if reason else "ok", bbox=bbox,
                 reason=reason)


def read_named(gray: np.ndarray, recognizer: Recognizer, spec: Pipeline | None,
               readings: list[Reading | None] | None = None, layout: str | None = None,
               options: ScanOptions | None = None) -> list[Field]:
    """The fields of one page: the one composition that forms, YAML zones and field images
    all go through; the pipeline only configures it.

    Without a pipeline (or one without named fields), every number the scanner finds, or the
    image's one number when it is a field image; with named fields, those fields in the order
    the pipeline lists them, before validation. ``options`` defaults to the pipeline's.

    ``readings``: for zone and box layouts, receives each named field's raw reading (None where
    nothing was read), with the crops the model read: training data cut the way pages are
    (:mod:`formreader.training.pagecrops`).
    """
    if options is None:
        if spec is None:
            raise ValueError("read_named needs a pipeline or scan options")
        options = spec.scan_options()
    if layout is None:
        layout = choose_layout(gray, options.field_mode)
    named = spec is not None and bool(spec.fields)
    if layout == "field":  # the image is one field: the pipeline's first (only) field
        return read_field_pages([gray], recognizer, spec, options)[0]
    # looked up per call, so that tests can put a stand-in for the page reader
    if not named:
        return page_reader.read_page(gray, recognizer, options)
    assert spec is not None
    size = (gray.shape[1], gray.shape[0])
    if spec.layout.mode in ("auto", "page", "free"):
        return _by_index(_in_region(page_reader.read_page(gray, recognizer, options), gray, spec), spec)
    page = clean_page(gray, options.binarize, options.deskew)
    frame, failure = register(page.mask, spec.layout.registration)
    regions, problems, zones = _locate_fields(page, frame, spec)
    lengths = [digit_count_rule(f) for f in spec.fields]
    found = read_lattices([field_lattice(r, page) if r is not None else None
                           for r in regions], recognizer, lengths=lengths)
    if options.faint_check:
        regions, found = reread_faint(regions, found, page, recognizer, lengths)
    if readings is not None:
        readings.extend(found)
    out = []
    for f, region, reading, problem, zone in zip(spec.fields, regions, found, problems, zones):
        reason = "; ".join(p for p in (failure, problem) if p) or None
        if region is None or reading is None or not reading.digits:
            if reading is not None and reading.skipped_marks:  # ink, but no digit: never "ok"
                reason = "; ".join(r for r in (reason, f"{reading.skipped_marks} mark(s) not read as digits") if r)
            out.append(_empty(f.name, work_to_source(WorkRect(region.bbox if region else zone), page.from_work, size), reason))
            continue
        field = field_from_reading(f.name, region, reading, page, size, spec.threshold, options.faint_check)
        field = with_string_reading(field, region, reading, page, size, recognizer, options, string_rule(f))
        if reason:
            field = dataclasses.replace(field, status="review",
                                        reason="; ".join(r for r in (reason, field.reason) if r))
        out.append(field)
    return out


def _locate_fields(page: CleanPage, frame: Frame, spec: Pipeline
                   ) -> tuple[list[FieldRegion | None], list[str | None], list[Rect]]:
    """Where each named field is on a zones or boxes page: its region (None when the page has
    no such box), why to doubt it, and the rectangle it was looked for in."""
    layout_spec: Layout = spec.layout
    boxes = find_boxes(page.mask)
    regions: list[FieldRegion | None] = []
    problems: list[str | None] = []
    zones: list[Rect] = []
    if layout_spec.mode == "boxes":
        counted = [b for b in boxes if _inside(b.outer, frame, layout_spec.region)]
        for box, problem in _locate_boxes(counted, spec.fields):
            regions.append(box_region(page.mask, box) if box is not None else None)
            problems.append(problem)
            zones.append(box.outer if box is not None else WorkRect((0, 0, 0, 0)))
        return regions, problems, zones
    horiz, vert = line_masks(page.mask)
    rulings = long_rulings(horiz, vert)
    for f in spec.fields:
        assert f.zone is not None
        zone = frame.to_work(f.zone)
        comb = comb_box(horiz, zone, f.cells, page.mask) if f.cells else None
        regions.append(box_region(page.mask, comb) if comb else zone_region(page.mask, boxes, rulings, zone))
        problems.append(None)
        zones.append(zone)
    return regions, problems, zones


def _locate_boxes(boxes: list[Box], fields: Sequence[FieldSpec]) -> list[tuple[Box | None, str | None]]:
    """Each field's box (None when the page has no such box), and why to doubt it.

    ``box: N`` counts through all boxes in reading order: one box missed or added upstream moves
    every later field onto its neighbour's box, unnoticed. ``box: [line, n]`` counts within a
    line of boxes, so only that line is affected, and a line holding fewer boxes than the
    pipeline names (or a page with fewer lines) is said to be one: its fields go to review.
    """
    lines = box_lines(boxes)
    named: dict[int, int] = {}  # line -> boxes the pipeline names in it
    for f in fields:  # the pipeline counts from 1, a list from 0
        if isinstance(f.box, list):
            named[f.box[0] - 1] = max(named.get(f.box[0] - 1, 0), f.box[1])
    missing_lines = max(named, default=-1) + 1 - len(lines)
    out: list[tuple[Box | None, str | None]] = []
    for f in fields:
        if isinstance(f.box, int):
            ok = f.box <= len(boxes)
            out.append((boxes[f.box - 1] if ok else None,
                        None if ok else f"box {f.box} not found (the page has {len(boxes)} boxes)"))
            continue
        assert f.box is not None
        line, n = f.box[0] - 1, f.box[1] - 1
        row = lines[line] if line < len(lines) else []
        if missing_lines > 0:
            doubt = (f"the page has {len(lines)} lines of boxes, the pipeline names {len(lines) + missing_lines}: "
                     "which is which is uncertain")
        elif len(row) < named[line]:
            doubt = (f"line {line + 1} of boxes has {len(row)} boxes, the pipeline names {named[line]}: "
                     "which is which is uncertain")
        else:
            doubt = None
        if n >= len(row):
            out.append((None, f"box [{line + 1}, {n + 1}] not found" + (f" ({doubt})" if doubt else "")))
        else:
            out.append((row[n], doubt))
    return out


def _in_region(found: list[Field], gray: np.ndarray, spec: Pipeline) -> list[Field]:
    """The numbers whose boxes lie inside ``layout.region`` (all of them without one)."""
    if spec.layout.region is None:
        return found
    page = clean_page(gray, spec.cleaning.binarize, spec.cleaning.deskew)
    frame, _ = register(page.mask, spec.layout.registration)
    return [f for f in found if _inside(source_to_work(f.bbox, page.to_work), frame, spec.layout.region)]


def read_field_pages(grays: Sequence[np.ndarray], recognizer: Recognizer, spec: Pipeline | None,
                     options: ScanOptions) -> list[list[Field]]:
    """:func:`read_named` of images that are each one field (layout ``field``), many at once.

    Why: a folder of crops is thousands of small images; read together, their digits and
    strings go to the models in one call per stage instead of one per crop, which reads the
    same fields a quarter faster (``benchmarks/bench_fields.py``).
    """
    named = spec is not None and bool(spec.fields)
    rules = spec.fields[0] if named else None  # type: ignore[union-attr]
    found = read_field_images(list(grays), recognizer, options, lengths=rules and digit_count_rule(rules),
                              accept=rules and string_rule(rules))
    return [_by_index([f], spec) if named else [f] for f in found]  # type: ignore[arg-type]


def _by_index(found: list[Field], spec: Pipeline) -> list[Field]:
    """Free/auto/field mode: the n-th number found is the field with ``index`` n (a field
    image's one number is index 0, which is also what a field-mode pipeline's field reads)."""
    out = []
    for f in spec.fields:
        index = f.index or 0
        if index < len(found):
            out.append(_renamed(found[index], f))
        else:
            out.append(_empty(f.name, (0, 0, 0, 0), f"number {index} not found (the page has {len(found)})"))
    return out


def _renamed(field: Field, spec: FieldSpec) -> Field:
    return dataclasses.replace(field, name=spec.name)
