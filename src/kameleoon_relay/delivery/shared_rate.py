"""`delivery.rate_limit`, shared by every delivery process and every relay on one database.

The database keeps, per destination, when its next send may go (GCRA's theoretical
arrival time, `Store.reserve_rate`). A worker reserves a tenth of a second of the limit at
a time and spends it at the limit's spacing; the reservations of all processes follow each
other in the database, so N processes send N x nothing more: the limit in all. Times are
the wall clock (relays on several machines keep it in step with NTP). Slots that pass
unused (nothing was ready to send) are lost, never saved up into a burst.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable

from kameleoon_relay.store.base import Store

log = logging.getLogger("kameleoon_relay.delivery")

CHUNK_SECONDS = 0.1  # of the limit reserved at once
LATE = 0.05  # seconds a slot may be used after its time (a busy loop, a late timer)


class SharedRate:
    """`wait(now)`: seconds until the next reserved slot (0: it is now), None while a
    reservation is being made (`on_ready` is called when it is); `take()` spends it."""

    def __init__(
        self, store: Store, destination: str, rate: float, on_ready: Callable[[], None]
    ) -> None:
        self.store = store
        self.destination = destination
        self.rate = rate
        self.interval = 1.0 / rate
        self.chunk = max(1, round(rate * CHUNK_SECONDS))
        self._on_ready = on_ready
        self._slots: collections.deque[float] = collections.deque()
        self._reserving: asyncio.Task | None = None

    def wait(self, now: float) -> float | None:
        while self._slots and self._slots[0] < now - LATE:
            self._slots.popleft()  # not used in time: gone
        if len(self._slots) <= self.chunk // 2:
            self._reserve_more()
        if not self._slots:
            return None
        return max(0.0, self._slots[0] - now)

    def take(self) -> None:
        self._slots.popleft()

    def close(self) -> None:
        if self._reserving is not None:
            self._reserving.cancel()

    def _reserve_more(self) -> None:
        if self._reserving is None or self._reserving.done():
            self._reserving = asyncio.create_task(self._reserve())

    async def _reserve(self) -> None:
        try:
            start = await self.store.reserve_rate(
                self.destination, self.chunk, self.interval, time.time()
            )
        except Exception:
            log.exception("reserving sends to %s failed", self.destination)
            await asyncio.sleep(1.0)  # the store is in trouble: try again in a moment
        else:
            self._slots.extend(start + i * self.interval for i in range(self.chunk))
        self._on_ready()
