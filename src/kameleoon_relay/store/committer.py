"""Group commit: concurrent ingest requests share one store transaction.

The store call is the durability point (a 200 follows it), and its cost is mostly
the commit, not the rows. While one commit runs, new requests queue up; the next
commit takes them all. Under no load a request is written at once; under load
the commits grow instead of queueing behind each other. An item the store refuses
is reported to its own request only; the others are stored all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

# Bounds one transaction; the rest waits for the next round.
MAX_COMMIT_ITEMS = 10_000


class IngestStore(Protocol):
    async def ingest(self, items: Sequence[Any]) -> Any: ...


class Committer:
    def __init__(
        self, store: IngestStore, on_commit: Callable[[int, Any], None] | None = None
    ) -> None:
        self._store = store
        self._on_commit = on_commit
        self._pending: list[tuple[list[Any], asyncio.Future[dict[int, str]]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ingest-committer")

    async def stop(self) -> None:
        """Writes what is queued, then ends the loop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def submit(self, items: list[Any]) -> dict[int, str]:
        """Returns once `items` are durably stored, with the index and reason of each item
        the store could not take; raises what the store raised when it stored nothing."""
        if self._task is None or self._closing:
            raise RuntimeError("the ingest committer is not running")
        future: asyncio.Future[dict[int, str]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, future))
        self._wakeup.set()
        # shield: a client that hangs up must not cancel the shared commit's future.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._commit_round()
            if self._closing:
                return

    async def _commit_round(self) -> None:
        taken, count = 0, 0
        for items, _ in self._pending:
            if taken and count + len(items) > MAX_COMMIT_ITEMS:
                break
            taken += 1
            count += len(items)
        group, self._pending = self._pending[:taken], self._pending[taken:]
        all_items = [item for items, _ in group for item in items]
        try:
            result = await self._store.ingest(all_items)
        except Exception as exc:  # the store's failure is each waiting request's failure
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        offset = 0
        for items, future in group:
            failed = {
                index - offset: reason
                for index, reason in result.failed.items()
                if offset <= index < offset + len(items)
            }
            offset += len(items)
            if not future.done():
                future.set_result(failed)
        if self._on_commit is not None:  # metrics and waking delivery: the caller's business
            self._on_commit(len(all_items), result)
