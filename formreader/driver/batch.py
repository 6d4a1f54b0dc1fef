"""Ordered, bounded, crash-isolated parallel map over a batch, and its progress bar.

Why not ``Pool.imap``: it reads the whole input iterable ahead and keeps every finished result
until the consumer catches up, so memory grows with the batch; and one worker killed by a
decoder segfault or the OOM killer breaks the pool and loses the whole batch. Here at most
``window`` items are in flight, results come back in input order, and a crashed item becomes
one failed result while the rest of the batch goes on.

Workers are started with ``spawn``: TensorFlow is not fork-safe, and a spawned worker imports
only what its task needs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

from formreader.errors import FormreaderError
from formreader.recognizer.threads import THREAD_ENV, cores

T = TypeVar("T")
R = TypeVar("R")
MAX_CRASHES_IN_A_ROW = 3  # then the workers themselves are broken (bad install, no memory)

# Every native pool a worker may start: the caps inference reads, and BLAS's and TensorFlow's own.
_THREAD_ENV = THREAD_ENV + ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTEROP_THREADS")


# A worker process is worth starting for this many files: workers take ~1 s to start (imports and
# their own model), the time one process reads ~80 field crops or a few forms.
FILES_PER_WORKER = 100


def auto_workers(files: int, per_worker: int | None = None, available: int | None = None) -> int:
    """Worker processes for a batch of ``files`` when the user names no number: one per core
    (``available``, by default :func:`cores`), but no more than the batch has ``per_worker``
    files for (by default :data:`FILES_PER_WORKER`), so that a short batch is read in this
    process and never waits for workers to start."""
    per_worker = FILES_PER_WORKER if per_worker is None else per_worker
    return max(1, min(cores() if available is None else available, files // max(1, per_worker)))


def threads_per_worker(workers: int) -> int:
    """Cores each worker may use so that N workers do not oversubscribe the machine."""
    return max(1, cores() // max(1, workers))


def init_worker(threads: int, parent: int | None = None) -> None:
    """Runs first in every worker: leave Ctrl-C to the parent, die with it, cap thread pools."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    for name in _THREAD_ENV:  # read by OpenMP / oneDNN / TF when they start, i.e. later
        os.environ[name] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:  # pragma: no cover - cv2 is a dependency
        pass


def _die_with_parent(parent: int | None) -> None:
    """A parent killed outright (SIGKILL, OOM) cannot stop its workers; without this they
    would go on reading the rest of the batch for nobody. Linux only (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return
    if parent is not None and os.getppid() != parent:  # it died before prctl took effect
        os._exit(1)


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int = 1,
    *,
    on_crash: Callable[[T], R],
    window: int | None = None,
    split: Callable[[T], Sequence[T]] | None = None,
) -> Iterator[R]:
    """``fn(item)`` for every item, in input order, in ``workers`` spawned processes.

    ``fn`` and the items must be picklable (``fn`` a module-level function). An exception that
    ``fn`` raises is re-raised here and ends the map (that is for errors that make the whole
    batch pointless, such as a missing model; per-item problems belong in ``fn``'s result). If
    a worker process dies, the items that were in flight are retried one at a time in fresh
    workers, and the one that kills its worker again is answered with ``on_crash(item)``.
    ``split``: for items that are groups (``fn`` returns a list), the parts of such a group;
    they are run one at a time and the group's result is theirs joined, so that only the part
    that kills its worker is answered with ``on_crash``.
    With ``workers <= 1`` everything runs in this process, in order, with no pool at all.

    Kept in one piece: the pool, the window of pages in flight and the handling of a dead worker
    share their state, and read best as one loop.
    """
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    window = max(window or 2 * workers, workers)
    ctx = multiprocessing.get_context("spawn")
    threads = threads_per_worker(workers)

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker,
                                   initargs=(threads, os.getpid()))

    source = iter(items)
    pending: deque[tuple[T, Future[R]]] = deque()
    crashes = 0  # consecutive items whose worker died
    pool = new_pool()

    def crashed() -> None:
        """Count a worker that died on its one item, and start a fresh pool."""
        nonlocal crashes, pool
        crashes += 1
        if crashes >= MAX_CRASHES_IN_A_ROW:
            raise FormreaderError(f"worker processes died on {crashes} inputs in a row; the problem is "
                                  "not one bad file: run with --workers 1 to see it") from None
        pool.shutdown(wait=False, cancel_futures=True)
        pool = new_pool()

    def alone(item: T) -> Any:
        """The result of an item whose worker died again when run alone: its parts' (``split``)."""
        nonlocal crashes
        parts = split(item) if split is not None else [item]
        if len(parts) <= 1:
            return on_crash(item)
        out: list[Any] = []
        for part in parts:
            try:
                got: Any = _submit(pool, fn, part).result()
                crashes = 0
            except BrokenProcessPool:
                crashed()
                got = on_crash(part)
            out.extend(got)
        return out

    try:
        while True:
            top_up(pending, source, window, lambda it: _submit(pool, fn, it))
            if not pending:
                return
            item, future = pending.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                suspects = [item] + [it for it, _ in pending]
                pending.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
                for suspect in suspects:  # one at a time, so a second crash has one culprit
                    try:
                        result = _submit(pool, fn, suspect).result()
                        crashes = 0
                    except BrokenProcessPool:
                        crashed()
                        result = alone(suspect)
                    yield result
                continue
            crashes = 0
            yield result
    finally:
        _stop(pool)


def top_up(pending: deque[tuple[T, Any]], source: Iterator[T], window: int, submit: Callable[[T], Any]) -> None:
    """Submit items from ``source`` until ``window`` are in flight or the source is spent."""
    while len(pending) < window:
        try:
            item = next(source)
        except StopIteration:
            return
        pending.append((item, submit(item)))


def _submit(pool: ProcessPoolExecutor, fn: Callable[[T], R], item: T) -> "Future[R]":
    """``pool.submit``, except that a pool already broken answers with a broken future."""
    try:
        return pool.submit(fn, item)
    except BrokenProcessPool as exc:
        future: Future[R] = Future()
        future.set_exception(exc)
        return future


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down now, not after the queued work: used on success, errors and Ctrl-C."""
    processes = list(getattr(pool, "_processes", {}).values())  # private, but no public way
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=5)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM (batch schedulers, ``kill``) like Ctrl-C inside the block, so workers are
    stopped and the pages read so far are written (exit 130) instead of the process just
    vanishing."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Progress:
    """A tqdm bar on stderr for batches, shown only to a person watching a terminal.

    ``note`` prints a line (a per-file error) above the bar without tearing it; scripts that
    capture stderr get the lines and no bar.
    """

    def __init__(self, total: int, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        from tqdm import tqdm

        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = total > 1 and _isatty(self.stream)
        self.bar: Any = tqdm(total=total, unit="file", file=self.stream, disable=not enabled,
                             dynamic_ncols=True, leave=False)
        self.pages = 0
        self.failed = 0

    def advance(self, pages: int, failed: int) -> None:
        self.pages += pages
        self.failed += failed
        self.bar.set_postfix_str(f"{self.pages} pages, {self.failed} failed", refresh=False)
        self.bar.update(1)

    def note(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=self.stream)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
