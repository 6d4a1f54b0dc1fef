"""Dask against local workers: the same batch on ``--scheduler local:N`` and ``--workers N``.

Reads COUNT pages (real parish crops, repeated if COUNT is larger; or, with ``--samples``, the
shipped sample scans repeated) both ways through :func:`formreader.driver.files.read_files`,
the driver ``scan`` and ``run`` use, in one run, and prints the wall time of each (start-up
included), their ratio (goal: Dask at most 1.2x the local workers), whether the results are the
same, and the client's peak memory after half the batch and after all of it (flat: it does not
grow with the number of pages).

    python benchmarks/bench_dask.py [--count 1000] [--workers 2] [--samples]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import parish  # noqa: E402  (tests/parish.py: the crops)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(files: list[str], workers: int, scheduler: str | None, mode: str) -> tuple[float, list, list[float]]:
    from formreader.driver.files import ReadJob, read_files
    from formreader.results import ScanOptions

    job = ReadJob(ScanOptions(field_mode=mode))  # type: ignore[arg-type]
    start = time.perf_counter()
    out, peaks = [], []
    for i, done in enumerate(read_files(files, job, None, workers=workers, scheduler=scheduler)):
        out.append([p.to_dict() for p in done.pages])
        if i + 1 in (len(files) // 2, len(files)):
            peaks.append(_peak_mb())
    return time.perf_counter() - start, out, peaks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", action="store_true", help="shipped sample scans instead of parish crops")
    args = ap.parse_args()
    if args.samples:
        pool, mode = [str(p) for p in sorted((ROOT / "samples").glob("*.jpg"))], "auto"
    else:
        pool, mode = [str(p) for p, _, _ in parish.crops("all")], "field"
    files = [pool[i % len(pool)] for i in range(args.count)]
    local_s, local, local_peaks = timed(files, args.workers, None, mode)
    dask_s, dask, dask_peaks = timed(files, args.workers, f"local:{args.workers}", mode)
    print(f"{args.count} {'sample pages' if args.samples else 'parish crops'}, {args.workers} workers")
    print("| executor | wall s | pages/s | client peak MB at 1/2, at end |")
    print("|---|---|---|---|")
    print(f"| --workers {args.workers} | {local_s:.1f} | {args.count / local_s:.0f} | "
          f"{local_peaks[0]:.0f}, {local_peaks[-1]:.0f} |")
    print(f"| --scheduler local:{args.workers} | {dask_s:.1f} | {args.count / dask_s:.0f} | "
          f"{dask_peaks[0]:.0f}, {dask_peaks[-1]:.0f} |")
    print(f"dask / local wall time: {dask_s / local_s:.2f}x (goal <= 1.2x); same results: {dask == local}")


if __name__ == "__main__":
    main()
