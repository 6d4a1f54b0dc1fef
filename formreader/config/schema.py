"""The pipeline YAML's keys: pydantic models, one per section, each key with its description.

The models reject unknown keys and never coerce types silently (``threshold: "0.9"`` is an
error, not a number). Every key carries a ``description``: ``docs/pipelines.md`` shows them in
its key reference, and a test checks that reference against these models, so the two cannot
drift. Rules that span several keys live in :mod:`formreader.config.rules`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from formreader.results import ScanOptions

DATE_TOKENS = ("YYYY", "YY", "MM", "DD")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Rect = list[float]  # x0, y0, x1, y1, each in 0..1


def _check_rect(value: Rect | None) -> Rect | None:
    if value is None:
        return None
    if len(value) != 4:
        raise ValueError(f"needs 4 numbers [x0, y0, x1, y1], got {len(value)}")
    x0, y0, x1, y1 = value
    if not all(0.0 <= v <= 1.0 for v in value):
        raise ValueError("coordinates are fractions of the page: each must lie in 0..1")
    if not (x0 < x1 and y0 < y1):
        raise ValueError("needs x0 < x1 and y0 < y1")
    return value


class Cleaning(_Strict):
    """How pages are cleaned before fields are looked for."""

    deskew: bool = Field(True, description="straighten pages scanned at a small angle")
    binarize: Literal["auto", "otsu", "sauvola"] = Field(
        "auto", description="ink threshold: otsu (one level for the page), sauvola (local, for uneven "
                            "lighting) or auto (sauvola where the paper's brightness varies)")
    dpi: int = Field(300, ge=50, le=1200, description="resolution PDF pages are rendered at")
    # Off for forms printed with light drop-out guides in their boxes, which would all be flagged.
    faint_check: bool = Field(True, description="send to review a field showing faint writing that "
                                                "was not read; turn off for forms with light drop-out guides")


class Layout(_Strict):
    """How fields are found: by the scanner (boxes / free / auto) or at fixed zones."""

    mode: Literal["auto", "page", "field", "boxes", "free", "zones"] = Field(
        "auto", description="field: each image is one cropped number; page: a form (its boxes, else free "
                            "numbers); boxes or free: a form read one way; zones: fixed rectangles; "
                            "auto: field or page per image")
    registration: Literal["lines", "marks", "none"] = Field(
        "lines", description="zones are fractions of the form's printed lines, of its four corner marks, "
                             "or of the page (none)")
    region: Rect | None = Field(None, description="[x0, y0, x1, y1] fractions: boxes/free modes count only "
                                                  "fields centred in this area")

    _rect = field_validator("region")(_check_rect)


class FieldSpec(_Strict):
    """One named field: where it is (one locator, suited to the layout mode) and its rules."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=64,
                      description="the field's name in the outputs (letters, digits, _ . -)")
    # Lines contain a missing box's damage: the rest of the form keeps its boxes, and a line with
    # fewer boxes than the pipeline names sends its fields to review.
    box: int | list[int] | None = Field(None, description="boxes mode: the n-th box in reading order, or "
                                                          "[line, n]; both count from 1")
    index: int | None = Field(None, ge=0, description="free/auto/page modes: the n-th number in reading "
                                                      "order, counted from 0")
    zone: Rect | None = Field(None, description="zones mode: [x0, y0, x1, y1] fractions of the "
                                                "registration frame")
    # Knowing the count from the template lets the comb be found from its top and bottom rulings
    # alone, however many of its dividers the handwriting crosses.
    cells: int | None = Field(None, ge=2, le=40, description="zones mode: the zone is a comb of this many "
                                                             "cells, one digit each")
    type: Literal["digits", "amount", "date"] = Field("digits", description="what the field holds")
    length: int | list[int] | None = Field(None, description="exact digit count, or the allowed counts")
    min_length: int | None = Field(None, ge=0, description="fewest digits")
    max_length: int | None = Field(None, ge=0, description="most digits")
    range: list[float] | None = Field(None, description="[min, max] of the numeric value")
    regex: str | None = Field(None, description="must match the whole digit string")
    checksum: Literal["luhn", "aba", "mod11"] | None = Field(None, description="check digit rule "
                                                                               "(type digits)")
    optional: bool = Field(False, description="an empty field is ok (otherwise it goes to review)")
    decimals: int | None = Field(None, ge=0, le=4, description="amount: implied decimal places "
                                                               "(default 2)")
    thousands: str | None = Field(None, max_length=1, description="amount: separator in text (default ,)")
    decimal: str | None = Field(None, max_length=1, description="amount: decimal mark in text (default .)")
    format: str | None = Field(None, description="date: order of DD, MM and YY or YYYY, e.g. MMDDYYYY")
    years: list[int] | None = Field(None, description="date: [first, last] year it may be")

    _rect = field_validator("zone")(_check_rect)

    @field_validator("length")
    @classmethod
    def _lengths(cls, value: int | list[int] | None) -> int | list[int] | None:
        values = [value] if isinstance(value, int) else (value or [])
        if any(v < 1 for v in values):
            raise ValueError("lengths must be >= 1")
        if isinstance(value, list) and not value:
            raise ValueError("needs at least one length")
        return value

    @field_validator("box")
    @classmethod
    def _box(cls, value: int | list[int] | None) -> int | list[int] | None:
        if isinstance(value, list) and len(value) != 2:
            raise ValueError("needs a box number, or [line, n]")
        if value is not None and min([value] if isinstance(value, int) else value) < 1:
            raise ValueError("boxes and lines of boxes count from 1 (box: 1 is the first box)")
        return value

    @field_validator("range", "years")
    @classmethod
    def _interval(cls, value: list[float] | None, info: ValidationInfo) -> list[float] | None:
        if value is not None and (len(value) != 2 or value[0] > value[1]):
            lo, hi = ("first", "last") if info.field_name == "years" else ("min", "max")
            raise ValueError(f"needs [{lo}, {hi}] with {lo} <= {hi}")
        return value


class Outputs(_Strict):
    """What a run writes; each is a path relative to the YAML file, or a URL (s3://, gs://, ...)."""

    csv: str | None = Field(None, description="one row per field")
    json_: str | None = Field(None, alias="json",  # ``json`` would shadow BaseModel.json
                              description="one object per page, with every digit's confidence")
    overlays: str | None = Field(None, description="a folder: one annotated PNG per page")
    review: str | None = Field(None, description="review.html: the fields to check, with a correction station")


def parse_scheduler(scheduler: str) -> tuple[str, int | str]:
    """``local:N`` -> ("local", N); an address (``tcp://host:8786``) -> ("address", it)."""
    kind, _, rest = scheduler.partition(":")
    if kind == "local":
        if not rest.isdigit() or not 1 <= int(rest) <= 256:
            raise ValueError(f"{scheduler!r}: local:N needs a worker count N from 1 to 256")
        return "local", int(rest)
    if rest.startswith("//") and rest[2:]:
        return "address", scheduler
    raise ValueError(f"{scheduler!r}: expected local:N or an address such as tcp://host:8786")


class Pipeline(_Strict):
    """A whole pipeline file."""

    name: str | None = Field(None, description="shown in review.html's title; default: the file's name")
    inputs: list[str] = Field(min_length=1, description="files, globs or URLs (s3://bucket/*.png); each must "
                                                        "match something")
    model: str | None = Field(None, description="a .keras/.onnx model or a fine-tuned bundle; default: "
                                                "$FORMREADER_MODEL, else the shipped model")
    threshold: float = Field(0.9, ge=0.0, le=1.0, description="a digit below this confidence sends its "
                                                              "field to review")
    cleaning: Cleaning = Field(Cleaning(), description="see cleaning.*")
    layout: Layout = Field(Layout(), description="see layout.*")
    fields: list[FieldSpec] = Field([], description="the named fields; none: every number found, named "
                                                    "by the scanner")
    outputs: Outputs = Field(Outputs(), description="see outputs.*; none: JSON on stdout")
    scheduler: str | None = Field(None, description="read on a Dask cluster: local:N or tcp://host:8786 "
                                                    "(--scheduler overrides)")

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, value: str | None) -> str | None:
        return value if value is None or parse_scheduler(value) else value

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("cleaning", "layout", "outputs", "fields", mode="before")
    @classmethod
    def _empty_section(cls, value: Any, info: Any) -> Any:
        # "outputs:" with nothing under it (or --set outputs=) means the defaults, not an error.
        if value is None:
            return [] if info.field_name == "fields" else {}
        return value

    def scan_options(self) -> ScanOptions:
        """The scanner's knobs; zones mode scans each zone as free text."""
        mode = {"zones": "free"}.get(self.layout.mode, self.layout.mode)
        return ScanOptions(threshold=self.threshold, field_mode=mode,  # type: ignore[arg-type]
                           deskew=self.cleaning.deskew, binarize=self.cleaning.binarize,
                           dpi=self.cleaning.dpi, faint_check=self.cleaning.faint_check)


SECTIONS: dict[str, type[BaseModel]] = {"": Pipeline, "cleaning": Cleaning, "layout": Layout,
                                        "fields[]": FieldSpec, "outputs": Outputs}


def date_tokens(fmt: str) -> list[str] | None:
    """'MMDDYYYY' -> ['MM', 'DD', 'YYYY']; None unless day, month and year appear once each."""
    tokens: list[str] = []
    rest = fmt.upper()
    while rest:
        for tok in DATE_TOKENS:
            if rest.startswith(tok):
                tokens.append(tok)
                rest = rest[len(tok):]
                break
        else:
            return None
    years = [t for t in tokens if t in ("YY", "YYYY")]
    if len(years) != 1 or tokens.count("MM") != 1 or tokens.count("DD") != 1:
        return None
    return tokens
