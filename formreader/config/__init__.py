"""Pipeline YAML -> one validated :class:`Pipeline`, or one :class:`ConfigError` line.

The schema lives in pydantic models (:mod:`~formreader.config.schema`: unknown keys rejected, no
silent type coercion, a description on every key); rules that span several keys
(:mod:`~formreader.config.rules`), ``--set`` overrides (:mod:`~formreader.config.overrides`) and
loading with paths resolved against the YAML's folder (:mod:`~formreader.config.load`) use the
same ``yaml.path: problem`` message format (:mod:`~formreader.config.messages`).

The schema, by example (every key but ``inputs`` is optional)::

    name: cheque
    inputs: ["scans/*.png", extra.pdf]    # files, globs or URLs; each must match something
    model: models/digits.keras            # default: $FORMREADER_MODEL, else the shipped model
    threshold: 0.9                        # a digit below this confidence sends its field to review
    cleaning: {deskew: true, binarize: auto, dpi: 300, faint_check: true}   # auto | otsu | sauvola; dpi for PDFs
    layout:
      mode: zones                         # auto | field | page | boxes | free | zones
      registration: lines                 # zones are fractions of: lines | marks | none (the page)
      region: [0, 0.2, 1, 0.6]            # boxes/free: count only fields centred in this area
    fields:                               # none: every number found, named by the scanner
      - name: routing
        zone: [0.0, 0.72, 0.5, 1.0]       # zones mode; boxes mode: box: N or [LINE, N]; auto/free: index: N
        cells: 9                          # zones mode: a comb of 9 cells
        type: digits                      # digits | amount | date
        length: 9                         # or [5, 9], or min_length / max_length
        range: [0, 999999999]
        regex: "[0-3][0-9]{8}"
        checksum: aba                     # luhn | aba | mod11
        optional: false                   # true: an empty field is ok
      - {name: amount, zone: [0.65, 0.22, 1, 0.55], type: amount, decimals: 2, thousands: ",", decimal: "."}
      - {name: date, zone: [0.6, 0, 1, 0.2], type: date, format: MMDDYYYY, years: [2000, 2099]}
    outputs: {csv: out/r.csv, json: out/r.json, overlays: out/overlays, review: out/review.html}
    scheduler: local:4                    # optional: read on a Dask cluster (local:N or tcp://host:8786)
"""

from formreader.config.load import LoadedPipeline, load_pipeline, validate
from formreader.config.messages import yaml_path
from formreader.config.overrides import apply_override
from formreader.config.schema import Cleaning, FieldSpec, Layout, Outputs, Pipeline, date_tokens, parse_scheduler

__all__ = ["Cleaning", "FieldSpec", "Layout", "LoadedPipeline", "Outputs", "Pipeline", "apply_override",
           "date_tokens", "load_pipeline", "parse_scheduler", "validate", "yaml_path"]
