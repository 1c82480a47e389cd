"""Retention: finished work and the events no work needs are deleted once older than
`retention`, in small batches, each its own short transaction, so ingest never stalls.
Pending and in-flight work is never pruned."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("kameleoon_relay.retention")

BATCH = 500  # rows per transaction
PAUSE = 0.05  # between batches: the writer thread serves ingest in between
MAX_INTERVAL = 60.0


def interval_for(retention: float) -> float:
    """How often to look: a tenth of the retention, between half a second and a minute."""
    return min(MAX_INTERVAL, max(0.5, retention / 10))


async def run_retention(
    prune: Callable[[float, int], Awaitable[int]],
    retention: Callable[[], float],
    stop: asyncio.Event,
) -> None:
    """Prune until `stop` is set; `retention()` is read each round (reloads change it)."""
    while not stop.is_set():
        window = retention()
        try:
            while not stop.is_set():
                removed = await prune(time.time() - window, BATCH)
                if removed < BATCH:
                    break
                await asyncio.sleep(PAUSE)
        except Exception:
            log.exception("retention: pruning failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_for(window))
