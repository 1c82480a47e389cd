"""The cyclic garbage collector, tuned for a long-running relay process.

A request or a delivery allocates thousands of short-lived objects. At CPython's
default young threshold (700) the collector ran several times a batch request,
walking live objects (~4 µs of CPU an event, against ~0.5 at 20,000), and its
oldest-generation passes walked the whole start-up heap (modules, config, pipeline)
every few hundred requests. Garbage without cycles is freed at once whatever this is;
frozen objects are still freed by reference counting.

A reload does not refreeze: unfreezing to collect the replaced config's cycles meant a
full collection (~100 ms on the event loop, each reload). The start-up config's few
cyclic objects (~16 a config) stay frozen; configs loaded later are collected by the
ordinary passes, which walk only what is not frozen.
"""

from __future__ import annotations

import gc

GC_YOUNG_THRESHOLD = 20_000


def tune_collector() -> None:
    """Freeze what is alive now (start-up done) and raise the young threshold."""
    freeze_heap()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def freeze_heap() -> None:
    """Put every object alive now out of the cyclic collector's reach."""
    gc.collect()
    gc.freeze()
