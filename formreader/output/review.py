"""review.html: every field that needs a person, with its image, reading and reason, and a place
to type the right value.

A clerk checks flagged fields faster against the ink than against a page number, so each entry
carries its own crop (inline base64 PNG: one self-contained file that can be mailed or archived
with the batch). Each entry has an input holding the value read: the clerk types the right one
(Enter accepts it and goes to the next, Tab moves on), and "Export corrections" downloads the
accepted ones as LABELS.csv (``image,value,page,field``), what ``formreader train --fields``
learns from. The script is inline and talks to no network, so the page works from ``file://``;
the page is byte-for-byte the same for the same results.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass

import cv2
import numpy as np

from formreader.results import BBox, Field

CROP_MAX_HEIGHT = 120  # px: plenty to read a digit, small enough for hundreds of entries


@dataclass(frozen=True)
class ReviewItem:
    source: str
    page: int
    field: Field
    crop_png: bytes  # PNG of the field with a margin around it


def crop_png(gray: np.ndarray, bbox: BBox, margin: float = 0.25) -> bytes:
    """The field's pixels plus a margin (so strokes leaving the box show), as a small PNG."""
    x, y, w, h = bbox
    H, W = gray.shape[:2]
    if w <= 0 or h <= 0:
        return b""
    m = int(round(margin * h))
    x0, y0, x1, y1 = max(x - m, 0), max(y - m, 0), min(x + w + m, W), min(y + h + m, H)
    crop = gray[y0:y1, x0:x1]
    if crop.size == 0:
        return b""
    if crop.shape[0] > CROP_MAX_HEIGHT:
        f = CROP_MAX_HEIGHT / crop.shape[0]
        crop = cv2.resize(crop, (max(1, int(round(crop.shape[1] * f))), CROP_MAX_HEIGHT), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(crop), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return buf.tobytes() if ok else b""


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ddd; padding: 6px 10px; text-align: left; vertical-align: middle; }
th { background: #f4f4f4; }
td.value { font-family: ui-monospace, monospace; font-size: 1.3em; }
td.reason { color: #a33; max-width: 30em; }
img { border: 1px solid #ccc; image-rendering: auto; }
input.fix { font-family: ui-monospace, monospace; font-size: 1.3em; width: 9em; }
tr.done input.fix { background: #e7f6e7; }
#export { font-size: 1em; padding: 4px 12px; }
"""

# Enter accepts a row and moves to the next; the export is a CSV built here and downloaded.
_SCRIPT = r"""
const inputs = Array.from(document.querySelectorAll("input.fix"));
inputs.forEach((box, i) => box.addEventListener("keydown", (e) => {
  if (e.key !== "Enter") return;
  e.preventDefault();
  box.closest("tr").classList.add("done");
  updateCount();
  if (i + 1 < inputs.length) inputs[i + 1].focus(); else document.getElementById("export").focus();
}));
function cell(text) {
  let t = String(text);
  if (/^[=+\-@\t\r]/.test(t)) t = "'" + t;
  return /[",\n\r]/.test(t) ? '"' + t.replace(/"/g, '""') + '"' : t;
}
function correctionsCsv() {
  const lines = ["image,value,page,field"];
  for (const box of inputs) {
    const row = box.closest("tr");
    if (!row.classList.contains("done")) continue;
    lines.push([row.dataset.source, box.value.trim(), row.dataset.page, row.dataset.field].map(cell).join(","));
  }
  return lines.join("\n") + "\n";
}
function updateCount() {
  document.getElementById("accepted").textContent = document.querySelectorAll("tr.done").length;
}
document.getElementById("export").addEventListener("click", () => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([correctionsCsv()], {type: "text/csv"}));
  link.download = "LABELS.csv";
  document.body.appendChild(link);
  link.click();
  link.remove();
});
"""


def render(items: list[ReviewItem], title: str = "formreader review") -> str:
    """The review page as an HTML string."""
    esc = html.escape
    rows = []
    for it in items:
        f = it.field
        img = (f'<img alt="{esc(f.name)}" src="data:image/png;base64,{base64.b64encode(it.crop_png).decode()}">'
               if it.crop_png else "(no image)")
        shown = f.text if f.text is not None else f.value
        rows.append(
            f'<tr data-source="{esc(os.path.abspath(it.source))}" data-page="{it.page}" data-field="{esc(f.name)}">'
            f"<td>{esc(it.source)}</td><td>{it.page}</td><td>{esc(f.name)}</td><td>{img}</td>"
            f'<td class="value">{esc(shown) or "&mdash;"}</td><td>{f.confidence:.2f}</td>'
            f'<td class="reason">{esc(f.reason or "")}</td>'
            f'<td><input class="fix" inputmode="numeric" aria-label="right value of {esc(f.name)}" '
            f'value="{esc(f.value)}"></td></tr>'
        )
    count = f"{len(items)} field{'s' if len(items) != 1 else ''} to check"
    body = ("<p>Type the right value and press Enter to accept it (Tab moves on without accepting); "
            '<span id="accepted">0</span> accepted. <button id="export">Export corrections (LABELS.csv)</button>'
            "</p>\n<table>\n<tr><th>File</th><th>Page</th><th>Field</th><th>Image</th><th>Read as</th>"
            "<th>Confidence</th><th>Reason</th><th>Right value</th></tr>\n" + "\n".join(rows) + "\n</table>\n"
            f"<script>{_SCRIPT}</script>") if items else "<p>Nothing to review.</p>"
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{esc(title)}</title>\n"
            f"<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{esc(title)}</h1>\n<p>{count}</p>\n{body}\n</body>\n</html>\n")
