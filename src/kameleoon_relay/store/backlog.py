"""Ingest pushes back when the queue outgrows delivery: 503 with Retry-After.

The SDKs retry a 503 after the delay they are given, so events wait in the clients
instead of the queue growing without limit. The count is read at most once a second.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

RETRY_AFTER_SECONDS = 10
REFRESH_SECONDS = 1.0


class Backlog:
    def __init__(self, count: Callable[[], Awaitable[int]], limit: Callable[[], int]) -> None:
        self._count = count
        self._limit = limit  # read each time: a reload may change it
        self._queued = 0
        self._read_at = float("-inf")

    async def full(self) -> bool:
        """Whether the queued deliveries passed the configured bound."""
        now = time.monotonic()
        if now - self._read_at >= REFRESH_SECONDS:
            self._read_at = now
            try:
                self._queued = await self._count()
            except Exception:
                return False  # the store's trouble shows when the events are stored

        return self._queued >= self._limit()
