"""The result tree (Page > Field > Digit) and the options that shape a scan.

Writers (JSON, CSV, overlay, review report) only read this tree; the image stages only build
it. ``to_dict`` is the output contract documented in README: keep it stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

BBox = tuple[int, int, int, int]  # x, y, w, h in pixels of the source page
Status = Literal["ok", "review"]
# ``layout`` (field or page) and ``text`` (the number as written) come last, so readers of the
# first ten columns by position are unaffected.
CSV_COLUMNS = ("source", "page", "field", "value", "confidence", "status", "x", "y", "w", "h", "layout", "text",
               "reason")


def _conf(x: float) -> float:
    # 4 decimals: stable across platforms' last-bit float noise, enough for any threshold.
    return round(float(x), 4)


@dataclass
class Digit:
    value: str  # "0".."9"
    confidence: float
    bbox: BBox
    # P("0".."9") for this mark, when the recognizer gave them: the field rules use them to find
    # the likeliest reading that passes (validate.repair). Not part of the output.
    probs: tuple[float, ...] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": _conf(self.confidence), "bbox": list(self.bbox)}


@dataclass
class Field:
    name: str
    value: str  # digits only (an amount's separators live in ``text``)
    confidence: float  # the lowest digit confidence; 0.0 for an empty field
    status: Status
    bbox: BBox
    digits: list[Digit] = field(default_factory=list)
    reason: str | None = None  # why status is "review"
    text: str | None = None  # typed rendering, e.g. "1,234.50" for an amount or a date
    # The string reader's reading of a field image (formreader.reading.judge): its text and the
    # posterior of each character.
    second: tuple[str, tuple[float, ...]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "value": self.value,
            "confidence": _conf(self.confidence),
            "status": self.status,
            "bbox": list(self.bbox),
            "digits": [d.to_dict() for d in self.digits],
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.text is not None:
            out["text"] = self.text
        if self.second is not None:
            out["string_reader"] = {"text": self.second[0], "confidences": [_conf(p) for p in self.second[1]]}
        return out

    def csv_row(self, source: str, page: int, layout: str = "") -> list[Any]:
        x, y, w, h = self.bbox
        return [source, page, self.name, self.value, _conf(self.confidence), self.status, x, y, w, h,
                layout, "" if self.text is None else self.text, self.reason or ""]


@dataclass
class PageResult:
    source: str
    page: int  # 1-based
    width: int = 0
    height: int = 0
    fields: list[Field] = field(default_factory=list)
    error: str | None = None
    layout: str | None = None  # "field" (the image is one field) or "page"; None if unread
    # Degrees clockwise the page was turned to read it upright; width, height and every box are
    # those of the upright page. In JSON only when not 0.
    rotation: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "page": self.page,
            "width": self.width,
            "height": self.height,
            "layout": self.layout,
            "fields": [f.to_dict() for f in self.fields],
            "error": self.error,
            **({"rotation": self.rotation} if self.rotation else {}),
        }


@dataclass(frozen=True)
class ScanOptions:
    """Knobs a user can turn from the CLI or a pipeline YAML."""

    threshold: float = 0.9  # a digit below this confidence puts its field in review
    # field: each image is one cropped number; page: a form (boxes where it has them, else
    # free numbers); boxes / free: a form read one way only; auto: field or page, per image.
    field_mode: Literal["auto", "page", "boxes", "free", "field"] = "auto"
    deskew: bool = True
    binarize: Literal["auto", "otsu", "sauvola"] = "auto"
    dpi: int = 300  # render resolution for PDF pages
    faint_check: bool = True  # review fields with faint writing nobody read (formreader.imaging.faint)
    # field images: read each also with the string reader, ok only when both agree (formreader.reading.judge)
    string_reader: bool = True
    # pages scanned upside down or sideways are turned upright (formreader.reading.orient)
    orient: bool = True
