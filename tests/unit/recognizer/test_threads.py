"""Inference threads: a batch worker's share of the cores, else the cores this process may use."""

from __future__ import annotations

import pytest

from formreader.recognizer import threads


def test_threads_are_a_workers_cap_else_the_cores_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in threads.THREAD_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: 64)
    assert threads.cores() == 1 and threads.thread_count() == 1  # taskset to one core of 64: one thread
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.thread_count() == 3  # the share batch.init_worker gave this worker
    monkeypatch.setenv("OMP_NUM_THREADS", "0")
    assert threads.thread_count() == 1  # no cap: the cores again
