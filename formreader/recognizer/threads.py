"""How many native threads inference may use: the cores this process was given, or a batch
worker's share of them.

Kept apart from :mod:`formreader.recognizer.infer` (which needs NumPy) so that a batch's parent
process can count its cores and plan its workers without loading anything heavy: workers start
only once the parent has listed the files.
"""

from __future__ import annotations

import os

# Caps formreader.driver.batch sets in each worker that ONNX Runtime's and TensorFlow's pools read.
THREAD_ENV = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


def cores() -> int:
    """The cores this process may run on (its CPU affinity, as a batch scheduler or ``taskset``
    sets it): a pool the size of the whole machine would oversubscribe the cores it was given."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def thread_count() -> int:
    """Native threads for inference: the cap a batch worker was given, else every core it may use.

    ``formreader.driver.batch`` sets ``OMP_NUM_THREADS`` in each worker so that N workers share the
    cores instead of each spinning up a pool the size of the machine.
    """
    for name in THREAD_ENV:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return cores()
