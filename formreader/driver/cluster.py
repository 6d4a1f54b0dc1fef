"""Reading a batch on a Dask cluster: the same driver, another executor.

:func:`cluster_map` is :func:`formreader.driver.batch.ordered_map` with Dask's distributed
scheduler doing the work: results come back in input order, at most ``window`` items are in
flight (the client's memory does not grow with the batch), an exception raised by the task
ends the map, and an item whose worker dies is retried on another worker by Dask; one that
kills workers ``allowed_failures + 1`` times is answered with ``on_crash(item)`` and the batch
goes on.

``scheduler`` is ``local:N`` (a :class:`distributed.LocalCluster` of N single-threaded worker
processes, started and stopped here) or the address of a running scheduler
(``tcp://host:8786``). Dask is imported only when a scheduler is asked for; without it the
error says what to install.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from formreader import config
from formreader.driver.batch import top_up
from formreader.errors import FormreaderError

T = TypeVar("T")
R = TypeVar("R")
INSTALL_HINT = "pip install 'formreader[dask]' (dask, distributed)"


class SchedulerError(FormreaderError):
    """A --scheduler that cannot be used: bad form, Dask missing, no scheduler at the address."""


def parse_scheduler(scheduler: str) -> tuple[str, int | str]:
    """:func:`formreader.config.parse_scheduler`, its complaint as a SchedulerError."""
    try:
        return config.parse_scheduler(scheduler)
    except ValueError as exc:
        raise SchedulerError(f"scheduler {exc}") from None


@contextmanager
def dask_client(scheduler: str, allowed_failures: int = 1) -> Iterator[Any]:
    """A connected :class:`distributed.Client`; a local cluster lives as long as the block."""
    kind, target = parse_scheduler(scheduler)
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerError(f"scheduler {scheduler!r} needs Dask: {INSTALL_HINT}") from None
    # One task at a time per worker (saturation 1.0): when a worker dies, only the file it was
    # reading is suspect, never files merely queued behind it.
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures,
                          "distributed.scheduler.worker-saturation": 1.0,
                          "distributed.worker.daemon": False}):
        if kind == "local":
            cluster = LocalCluster(n_workers=int(target), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR,
                                   env={"OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                                        "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"})
            try:
                with Client(cluster) as client:
                    yield client
            finally:
                cluster.close()
        else:
            try:
                client = Client(str(target), timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise SchedulerError(f"scheduler {target}: cannot connect ({exc})") from None
            try:
                yield client
            finally:
                client.close()


def cluster_map(fn: Callable[[T], R], items: Iterable[T], scheduler: str, *, on_crash: Callable[[T], R],
                window: int | None = None, allowed_failures: int = 1,
                split: Callable[[T], Sequence[T]] | None = None) -> Iterator[R]:
    """``fn(item)`` for every item, in input order, on the Dask cluster ``scheduler``.

    ``split``: for items that are groups (``fn`` returns a list), the parts of a group whose
    workers died; they are run again one at a time and the group's result is theirs joined, so
    that only the part that kills its worker is answered with ``on_crash``."""
    with dask_client(scheduler, allowed_failures) as client:
        from distributed.scheduler import KilledWorker

        workers = max(1, len(client.scheduler_info().get("workers", {})))
        window = max(window or 2 * workers, 1)
        source = iter(items)
        pending: deque[tuple[T, Any]] = deque()
        try:
            while True:
                top_up(pending, source, window, lambda it: client.submit(fn, it, pure=False))
                if not pending:
                    return
                item, future = pending.popleft()
                try:
                    result = future.result()
                except KilledWorker:
                    parts = split(item) if split is not None else [item]
                    result = on_crash(item) if len(parts) <= 1 else _one_by_one(client, fn, parts, on_crash)
                finally:
                    future.release()
                yield result
        finally:
            for _, future in pending:
                future.cancel()


def _one_by_one(client: Any, fn: Callable[[T], Any], parts: Sequence[T], on_crash: Callable[[T], Any]) -> Any:
    """The joined results of ``parts``, each run alone (see :func:`cluster_map`'s ``split``)."""
    from distributed.scheduler import KilledWorker

    out: list = []
    for part in parts:
        future = client.submit(fn, part, pure=False)
        try:
            out.extend(future.result())
        except KilledWorker:
            out.extend(on_crash(part))
        finally:
            future.release()
    return out
