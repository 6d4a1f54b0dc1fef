"""Pages scanned the wrong way round: every shipped sample and the real NIST page, turned 90, 180
and 270 degrees, read and compared with the upright reading; and what the check costs.

Prints how many turned pages read exactly as upright, how many put their differing fields in
review, and how many have a field that is wrong and ``ok`` (the goal: none); then the seconds
to read the upright samples with the check and without (``orient=False``), in one run.

    python benchmarks/bench_orientation.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import formreader
    from formreader.api import scan_files
    from formreader.io.pages import load_gray
    from formreader.results import ScanOptions

    files = sorted((ROOT / "samples").glob("*.jpg")) + [ROOT.parent / "shared" / "data" / "scans" / "nist-hsf-f0000.png"]
    same = review = wrong_ok = found = 0
    for path in files:
        gray = load_gray(path)
        upright = {f.name: f.value for f in formreader.read(gray)[0].fields}
        for k in (1, 2, 3):
            page = formreader.read(np.ascontiguousarray(np.rot90(gray, k)))[0]
            found += page.rotation == 90 * k
            got = {f.name: (f.value, f.status) for f in page.fields}
            bad = [n for n, (v, s) in got.items() if s == "ok" and upright.get(n) != v]
            if bad:
                wrong_ok += 1
                print(f"{path.name} turned {90 * k}: wrong and ok: {bad}")
            elif all(got.get(n, ("",))[0] == v for n, v in upright.items()):
                same += 1
            else:
                review += 1
    pages = 3 * len(files)
    print(f"{pages} turned pages: {found} turned back right; {same} read as upright, {review} in review where "
          f"they differ, {wrong_ok} with a field wrong and ok")
    samples = [p for p in files if p.parent.name == "samples"]
    list(scan_files(samples[:2]))  # warm up
    times = {}
    for orient in (False, True, False, True):
        start = time.perf_counter()
        list(scan_files(samples, ScanOptions(orient=orient)))
        times.setdefault(orient, []).append(time.perf_counter() - start)
    off, on = min(times[False]), min(times[True])
    print(f"{len(samples)} upright samples: {off:.2f} s without the check, {on:.2f} s with it ({on / off:.2f}x)")


if __name__ == "__main__":
    main()
