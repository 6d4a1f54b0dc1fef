"""Batch scanning speed and memory: ``formreader scan`` on synthetic 300 dpi HSF-like pages,
against a floor (decode + Otsu + connected components) and, if installed, Tesseract.

Run by hand on an idle machine (numbers from a busy one mean nothing):

    .venv/bin/python benchmarks/bench_scan.py                        # 20 pages, --workers 2
    .venv/bin/python benchmarks/bench_scan.py --pages 1000 --fast    # memory over a long batch
    .venv/bin/python benchmarks/bench_scan.py --json

What one run reports, all on the same page files:

* end to end: the real CLI (``formreader scan DIR --workers W``, JSON on a pipe) in a child
  process; pages/s and digits/s over the whole run and in steady state (first page out to last
  page out, i.e. without start-up), time to the first page, and the peak RSS of the process tree
  (parent + workers), sampled every 50 ms, with RSS at page milestones to show it stays flat;
* stages: the same pages read in this process (one process, every core), with the scanner's
  stage functions wrapped to time load, clean, fields, segment, normalise, classify, decode and
  write; nothing in the scanner is edited;
* floor: decode + Otsu + 8-connected components of each page, one process and W processes; the
  ratios ours/floor are per page (one process each) and per batch (W processes each);
* the split of a page's time, under cProfile, between native work (decoder, OpenCV, ONNX
  Runtime calls of 20 us or more), native glue (shorter calls) and Python function bodies: the
  native work bounds what any rewrite of the orchestration around those calls could reach;
* Tesseract ``tesseract PAGE stdout --psm 11`` on a few pages, if the binary is on PATH.

Pages: :func:`formreader.training.synth.render` ("hsf" at 300 dpi: the top of a NIST HSF form with 28 boxed
digit fields written with MNIST *test* digits, scanned with skew, blur, noise, JPEG), placed on a
US-letter sheet (2550 x 3300 px, the size of the real NIST scans) of the same noisy paper, and
saved as PNG. ``--distinct`` pages are rendered (cached in the temp dir); a batch of ``--pages``
cycles through them as hard links, so ``--pages 1000`` costs only the scanning.
"""

from __future__ import annotations

import argparse
import compileall
import json
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LETTER = (3300, 2550)  # rows, cols of a US-letter page at 300 dpi
STAGES = ("load", "clean", "fields", "segment", "normalise", "classify", "decode", "write", "other")
_MARK = b'{"source": '  # opens each page object in formreader's JSON output, once per page


# --- pages ------------------------------------------------------------------------------------


def letter_page(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rendered form at the top of a letter sheet; the rest is paper with the form's noise."""
    out = np.empty(LETTER, np.uint8)
    h, w = min(gray.shape[0], LETTER[0]), min(gray.shape[1], LETTER[1])
    paper = float(np.percentile(gray, 90))
    noise = rng.normal(paper, 3.0, LETTER).astype(np.float32)
    out[:] = np.clip(cv2.GaussianBlur(noise, (0, 0), 1.0), 0, 255).astype(np.uint8)
    out[:h, :w] = gray[:h, :w]
    return out


def make_pages(distinct: int, seed: int, mnist: Path, fmt: str) -> tuple[list[Path], list[int]]:
    """``distinct`` page files (cached across runs) and the number of handwritten digits on each."""
    cache = Path(tempfile.gettempdir()) / "formreader-bench-pages" / f"hsf300-{fmt}-seed{seed}"
    cache.mkdir(parents=True, exist_ok=True)
    digits: Any = None
    files, counts = [], []
    for i in range(distinct):
        image, truth = cache / f"hsf-{i:03d}.{fmt}", cache / f"hsf-{i:03d}.digits"
        if not (image.exists() and truth.exists()):
            from formreader.training import drawing, synth

            if digits is None:
                digits = drawing.Digits.load_test(mnist)
            jpeg, info = synth.render("hsf", seed + i, digits, dpi=300)
            page = letter_page(synth.decode(jpeg), np.random.default_rng([seed, i]))
            cv2.imwrite(str(image), page)
            truth.write_text(str(sum(len(f["value"]) for f in info["fields"])))
        files.append(image)
        counts.append(int(truth.read_text()))
    return files, counts


def batch_dir(files: list[Path], pages: int, where: Path) -> Path:
    """A folder of ``pages`` files cycling through ``files`` (hard links, copies if need be)."""
    out = where / "batch"
    out.mkdir()
    for i in range(pages):
        src, dst = files[i % len(files)], out / f"page-{i:05d}{files[0].suffix}"
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return out


# --- memory -----------------------------------------------------------------------------------


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and all its descendants (RSS summed: shared pages count twice)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
            children[ppid].append(int(entry.name))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


class RssSampler(threading.Thread):
    """Samples a process tree's RSS every ``period`` seconds; ``peak`` and ``last`` in bytes."""

    def __init__(self, pid: int, period: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.peak = self.last = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.last = tree_rss(self.pid)
            self.peak = max(self.peak, self.last)
            self.done.wait(self.period)


# --- end to end -------------------------------------------------------------------------------


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("formreader")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "formreader"]


def help_seconds(runs: int = 5) -> float:
    """Median wall time of ``formreader --help``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*cli_command(), "--help"], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def end_to_end(folder: Path, pages: int, workers: int, model: Path) -> dict[str, Any]:
    """Run the CLI on ``folder``, timestamping each page as it appears on its stdout."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [*cli_command(), "scan", str(folder), "--workers", str(workers), "--model", str(model)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    sampler = RssSampler(proc.pid)
    sampler.start()
    assert proc.stdout is not None
    fd, chunks, stamps, tail = proc.stdout.fileno(), [], [], b""
    milestones = {n for n in (1, 10, 50, 100, 200, 500, 1000, 2000, 5000) if n <= pages} | {pages}
    rss_at: dict[int, int] = {}
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        now = time.perf_counter() - start
        chunks.append(chunk)
        seen = (tail + chunk).count(_MARK)
        for _ in range(seen):
            stamps.append(now)
            if len(stamps) in milestones:
                rss_at[len(stamps)] = tree_rss(proc.pid)
        tail = chunk[-(len(_MARK) - 1) :]
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = proc.wait()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    out = json.loads(b"".join(chunks) or b'{"pages": []}')["pages"]
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else None
    return {
        "command": " ".join(["formreader", *cmd[len(cli_command()):]]),
        "exit_code": code,
        "stderr_tail": stderr.strip().splitlines()[-1:] if code else [],
        "pages_out": len(out),
        "pages_failed": sum(p["error"] is not None for p in out),
        "digits_read": sum(len(d["value"]) for p in out for fld in p["fields"] for d in fld["digits"]),
        "wall_s": round(wall, 2),
        "first_page_s": round(stamps[0], 2) if stamps else None,
        "pages_per_s": round(len(out) / wall, 2),
        "steady_pages_per_s": round(steady, 2) if steady else None,
        "peak_rss_mb": round(sampler.peak / 2**20, 1),
        "rss_mb_at_page": {str(k): round(v / 2**20, 1) for k, v in sorted(rss_at.items())},
    }


# --- stages, in process -----------------------------------------------------------------------


class StageClock:
    """Exclusive wall time per stage: a stage called inside another (``to_mnist`` inside
    ``segment_field``, or lazily inside ``read_page``) is taken out of the outer one."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self._stack: list[str] = []

    def _add(self, name: str, elapsed: float) -> None:
        self.total[name] += elapsed
        if self._stack:
            self.total[self._stack[-1]] -= elapsed

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append(name)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self._stack.pop()
                self._add(name, elapsed)

        return timed

    def wrap_iter(self, name: str, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """For generators: time spent producing each item (the page decode happens in ``next``)."""

        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = iter(fn(*args, **kwargs))
            while True:
                start = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    self._add(name, time.perf_counter() - start)
                    return
                self._add(name, time.perf_counter() - start)
                yield item

        return timed


def stages(files: list[Path], model: Path) -> dict[str, Any]:
    """Read ``files`` in this process with the scanner's stage functions wrapped by a clock.

    Wrapped by name where ``formreader.reading.page``/``io``/``segment``/``schedule`` look them up; a stage whose
    function is not where it is expected is reported as missing rather than guessed.
    """
    import io

    from formreader import api
    from formreader.io import pages as page_io  # the driver imports iter_pages from here per call
    from formreader.output.writers import JsonWriter
    from formreader.reading import page, schedule, segment
    from formreader.recognizer.model import load_model
    from formreader.results import ScanOptions

    clock = StageClock()
    missing = []
    patches = [(page_io, "iter_pages", "load", True), (page, "clean_page", "clean", False),
               (page, "find_regions", "fields", False), (page, "text_lines", "fields", False),
               (page, "segment_field", "segment", False), (segment, "to_mnist", "normalise", False),
               (segment, "to_mnist_shaded", "normalise", False),
               (schedule, "decode", "decode", False)]
    saved = []
    for module, attr, stage, is_iter in patches:
        if not hasattr(module, attr):
            missing.append(f"{module.__name__}.{attr}")
            continue
        fn = getattr(module, attr)
        saved.append((module, attr, fn))
        setattr(module, attr, clock.wrap_iter(stage, fn) if is_iter else clock.wrap(stage, fn))
    rec = load_model(model)
    rec.classify(np.zeros((8, 28, 28), np.float32))  # warm-up outside the clock
    rec.classify = clock.wrap("classify", rec.classify)  # type: ignore[method-assign]
    sink = io.StringIO()
    writer = JsonWriter(sink)
    write = clock.wrap("write", writer.write)
    options = ScanOptions()
    try:
        start = time.perf_counter()
        for path in files:
            for result in api.read_file(path, rec, options):
                write(result)
        wall = time.perf_counter() - start
        writer.finish()
    finally:
        for module, attr, fn in saved:
            setattr(module, attr, fn)
        del rec.classify
    pages = json.loads(sink.getvalue())["pages"]
    per_page = {k: clock.total.get(k, 0.0) / len(files) for k in STAGES}
    per_page["other"] = wall / len(files) - sum(v for k, v in per_page.items() if k != "other")
    return {
        "pages": len(files),
        "page_s": round(wall / len(files), 4),
        "ms_per_page": {k: round(v * 1000, 1) for k, v in per_page.items()},
        "digits_read_per_page": round(sum(len(f["value"]) for p in pages for f in p["fields"]) / len(files), 1),
        "errors": sum(p["error"] is not None for p in pages),
        "missing": missing,
        "backend": getattr(load_model(model), "backend", "?"),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def candidates_per_page(files: list[Path], model: Path) -> float:
    """Crops sent to the classifier per page (the segmenter's candidates, not just digits)."""
    from formreader import api
    from formreader.recognizer.model import load_model
    from formreader.results import ScanOptions

    rec = load_model(model)
    seen = []
    real = rec.classify
    def counted(crops: np.ndarray, **kwargs: Any) -> Any:
        seen.append(len(crops))
        return real(crops, **kwargs)

    rec.classify = counted  # type: ignore[method-assign]
    try:
        for path in files:
            list(api.read_file(path, rec, ScanOptions()))
    finally:
        del rec.classify
    return sum(seen) / len(files)


# A native call this long on average is work (a decode, a filter over a page, a model call); a
# shorter one is mostly the cost of making the call (small NumPy reductions, builtins).
NATIVE_WORK_CALL_S = 20e-6


def native_split(files: list[Path], model: Path, top: int = 8) -> dict[str, Any]:
    """Where a page's time goes: native work, call glue and Python, under cProfile.

    Native work: time inside built-in calls averaging NATIVE_WORK_CALL_S or more (OpenCV filters
    and labelling over a page or a field, the PNG/JPEG decoder, ONNX Runtime): what a page
    reader built from these calls cannot avoid however its Python is written. Glue: shorter
    native calls (NumPy on a few pixels, ``max``, ``len``), and Python: function bodies; both
    are the cost of orchestrating the work call by call, and a compiled rewrite of the
    orchestration would remove most of them. The profiler's own per-call cost inflates glue and
    Python, not work; so ``workers * 1000 / work_ms`` pages/s is a ceiling on what any such
    rewrite could reach with these calls.
    """
    import cProfile
    import pstats

    from formreader import api
    from formreader.recognizer.model import load_model
    from formreader.results import ScanOptions

    rec = load_model(model)
    rec.classify(np.zeros((8, 28, 28), np.float32))  # warm-up outside the profile
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    for path in files:
        list(api.read_file(path, rec, ScanOptions()))
    profile.disable()
    profiled = time.perf_counter() - start
    work: dict[str, float] = defaultdict(float)
    glue = python = 0.0
    calls = 0
    for (filename, _, name), (_, ncalls, tottime, _, _) in pstats.Stats(profile).stats.items():  # type: ignore[attr-defined]
        calls += ncalls
        if filename != "~":
            python += tottime
        elif tottime >= NATIVE_WORK_CALL_S * ncalls:
            work[name.strip("<>")] += tottime
        else:
            glue += tottime
    n = len(files)
    ranked = sorted(work.items(), key=lambda kv: -kv[1])[:top]
    return {
        "pages": n,
        "profiled_ms": round(1000 * profiled / n, 1),
        "work_ms": round(1000 * sum(work.values()) / n, 1),
        "glue_ms": round(1000 * glue / n, 1),
        "python_ms": round(1000 * python / n, 1),
        "calls_per_page": round(calls / n),
        "top_work_ms": {k.replace("built-in method ", ""): round(1000 * v / n, 1) for k, v in ranked},
    }


# --- floor and peer ---------------------------------------------------------------------------


def floor_page(path: str) -> int:
    """The least any page reader must do: decode, binarize (Otsu), label 8-connected ink."""
    gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, _, _, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return int(n)


def _floor_init() -> None:
    cv2.setNumThreads(1)


def floor(files: list[Path], workers: int) -> dict[str, Any]:
    """Per page in this process, and pages/s with ``workers`` processes (one thread each)."""
    paths = [str(p) for p in files]
    floor_page(paths[0])
    start = time.perf_counter()
    for p in paths:
        floor_page(p)
    one = (time.perf_counter() - start) / len(paths)
    spawn = multiprocessing.get_context("spawn")  # forking after OpenCV's threads can deadlock
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=_floor_init) as pool:
        list(pool.map(floor_page, paths[:workers]))  # start-up outside the clock
        start = time.perf_counter()
        list(pool.map(floor_page, paths))
        batch = len(paths) / (time.perf_counter() - start)
    return {"page_s": round(one, 4), "workers": workers, "pages_per_s": round(batch, 2)}


def tesseract(files: list[Path]) -> dict[str, Any] | None:
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    times = []
    for path in files:
        start = time.perf_counter()
        subprocess.run([exe, str(path), "stdout", "--psm", "11"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return {"version": version, "pages": len(files), "page_s": round(statistics.mean(times), 3),
            "command": "tesseract PAGE stdout --psm 11"}


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=20, help="pages in the end-to-end batch")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--distinct", type=int, default=10, help="different pages rendered (cycled)")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--format", choices=("png", "jpg"), default="png")
    ap.add_argument("--fast", action="store_true",
                    help="end to end and memory only (no stages, floor, Tesseract): for --pages 1000")
    ap.add_argument("--tesseract-pages", type=int, default=3)
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "digits.keras")
    ap.add_argument("--mnist", type=Path, default=ROOT.parent / "shared" / "data" / "mnist")
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "scans" / "nist-hsf-f0000.png",
                    help="a real scan to time as well (skipped if missing)")
    ap.add_argument("--threads", type=int, default=None,
                    help="native threads in this process for stages and floor (default: cores / workers, "
                         "what each batch worker gets, so the stage times add up to a worker's page)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.workers))

    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    distinct, digits = make_pages(min(args.distinct, args.pages), args.seed, args.mnist, args.format)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "pages": args.pages, "distinct_pages": len(distinct), "page_size": f"{LETTER[1]}x{LETTER[0]}",
        "format": args.format, "digits_per_page": round(sum(digits) / len(digits), 1),
        "workers": args.workers, "stage_threads": threads, "backend_env": os.environ.get("FORMREADER_BACKEND", "auto"),
    }
    # The first process to load a model exports it to ONNX and caches that (formreader.recognizer.infer);
    # every later one, including the batch workers below, loads the cache. Measure that case.
    subprocess.run([sys.executable, "-c", f"from formreader.recognizer.model import load_model; load_model({str(args.model)!r})"],
                   check=True, capture_output=True)
    # pip writes bytecode for what it installs. From a source checkout run with
    # PYTHONDONTWRITEBYTECODE (as on our machines) every process would instead compile
    # formreader's sources before its first page (~60 ms each): measure the installed case.
    import formreader

    compileall.compile_dir(Path(formreader.__file__).parent, quiet=1)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by formreader.recognizer.infer when the model loads
    cv2.setNumThreads(threads)
    say("formreader --help ...")
    report["help_s"] = round(help_seconds(), 3)
    with tempfile.TemporaryDirectory() as tmp:
        folder = batch_dir(distinct, args.pages, Path(tmp))
        files = sorted(folder.iterdir())
        say(f"end to end: {args.pages} pages, --workers {args.workers} ...")
        e2e = end_to_end(folder, args.pages, args.workers, args.model)
        e2e["digits_per_s"] = round(e2e["pages_per_s"] * report["digits_per_page"], 1)
        if e2e["steady_pages_per_s"]:
            e2e["steady_digits_per_s"] = round(e2e["steady_pages_per_s"] * report["digits_per_page"], 1)
        report["end_to_end"] = e2e
        if not args.fast:
            say("floor ...")
            report["floor"] = fl = floor(files, args.workers)
            say("stages (in process) ...")
            report["stages"] = st = stages(files, args.model)
            report["candidates_per_page"] = round(candidates_per_page(distinct, args.model), 1)
            say("native / interpreter split (cProfile) ...")
            report["split"] = native_split(distinct, args.model)
            report["ratio_ours_floor_per_page"] = round(st["page_s"] / fl["page_s"], 2)
            report["ratio_ours_floor_batch"] = round(fl["pages_per_s"] / e2e["pages_per_s"], 2)
            if e2e["steady_pages_per_s"]:
                report["ratio_ours_floor_batch_steady"] = round(fl["pages_per_s"] / e2e["steady_pages_per_s"], 2)
            if args.real.exists():
                say("real scan ...")
                real = {"file": args.real.name, "stages": stages([args.real], args.model),
                        "floor": floor([args.real], 1)}
                real["ratio_ours_floor_per_page"] = round(real["stages"]["page_s"] / real["floor"]["page_s"], 2)
                report["real_scan"] = real
            if args.tesseract_pages > 0:
                say("tesseract ...")
                tess = tesseract(distinct[: args.tesseract_pages])
                if tess is not None:
                    tess["ratio_ours_tesseract_per_page"] = round(st["page_s"] / tess["page_s"], 3)
                report["tesseract"] = tess
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report(report)


def print_report(r: dict[str, Any]) -> None:
    e = r["end_to_end"]
    print(f"{r['date']}  {r['machine']}  {r['pages']} pages ({r['distinct_pages']} distinct, {r['page_size']} "
          f"{r['format']}, {r['digits_per_page']} handwritten digits/page)")
    print(f"formreader --help: {r['help_s']:.2f} s")
    print(f"end to end  `{e['command']}`: exit {e['exit_code']}, {e['pages_out']} pages "
          f"({e['pages_failed']} failed), {e['digits_read']} digits read")
    print(f"  {e['wall_s']} s wall, first page after {e['first_page_s']} s: {e['pages_per_s']} pages/s, "
          f"{e['digits_per_s']:.0f} digits/s; steady state {e['steady_pages_per_s']} pages/s, "
          f"{e.get('steady_digits_per_s', 0):.0f} digits/s")
    print(f"  peak RSS (process tree) {e['peak_rss_mb']} MB; RSS at page " +
          ", ".join(f"{k}: {v}" for k, v in e["rss_mb_at_page"].items()) + " MB")
    if "stages" not in r:
        return
    s, f = r["stages"], r["floor"]
    print(f"stages, one process, {r['stage_threads']} thread(s) ({s['pages']} pages, backend {s['backend']}): {s['page_s'] * 1000:.0f} ms/page, "
          f"{r['candidates_per_page']} crops classified/page, peak RSS {s['peak_rss_mb']} MB")
    print("  " + "  ".join(f"{k} {v}" for k, v in s["ms_per_page"].items()) + "  (ms/page)")
    if s["missing"]:
        print(f"  not measured (function not found): {', '.join(s['missing'])}")
    if "split" in r:
        sp = r["split"]
        print(f"  under cProfile ({sp['profiled_ms']} ms/page): native work {sp['work_ms']}, native glue "
              f"{sp['glue_ms']}, Python {sp['python_ms']} ms/page ({sp['calls_per_page']} calls/page); "
              f"with glue and Python free, {r['workers']} workers could not pass "
              f"{r['workers'] * 1000 / sp['work_ms']:.1f} pages/s")
        print("  native work: " + "  ".join(f"{k} {v}" for k, v in sp["top_work_ms"].items()) + "  (ms/page)")
    print(f"floor (decode + Otsu + components): {f['page_s'] * 1000:.0f} ms/page in one process, "
          f"{f['pages_per_s']} pages/s with {f['workers']} processes")
    print(f"ratio ours/floor: {r['ratio_ours_floor_per_page']}x per page (one process), "
          f"{r['ratio_ours_floor_batch']}x per batch ({f['workers']} processes; "
          f"{r.get('ratio_ours_floor_batch_steady')}x in steady state)")
    if "real_scan" in r:
        rs = r["real_scan"]
        print(f"real scan {rs['file']}: {rs['stages']['page_s'] * 1000:.0f} ms/page, floor "
              f"{rs['floor']['page_s'] * 1000:.0f} ms: {rs['ratio_ours_floor_per_page']}x; "
              + "  ".join(f"{k} {v}" for k, v in rs["stages"]["ms_per_page"].items()))
    t = r.get("tesseract")
    if t:
        print(f"tesseract ({t['version']}, `{t['command']}`, {t['pages']} pages): {t['page_s']:.2f} s/page; "
              f"ratio ours/tesseract {t['ratio_ours_tesseract_per_page']}")
    elif "tesseract" in r:
        print("tesseract: not installed")


if __name__ == "__main__":
    main()
