"""Requests for a job that only the latest matters of (a reload): at most one run at a
time, and any number of requests during a run make one more run after it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("kameleoon_relay")


class Coalesced:
    """`request()` from the event loop (a signal handler): runs `job` now, or once more
    after the run in progress, however many requests came meanwhile (the last wins: the
    run after them sees the state they asked for). `await wait()` for the runs to end."""

    def __init__(self, job: Callable[[], Awaitable[None]]) -> None:
        self._job = job
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self.runs = 0

    def request(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            self.runs += 1
            try:
                await self._job()
            except Exception:  # the job reports its own errors; this one it did not expect
                log.exception("coalesced job failed")
            if not self._again:
                return

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)
