"""One thread owns the SQLite connection; jobs queued together share one commit.

SQLite allows one writer at a time, so a single connection loses nothing, and batching
the jobs that queued up during the previous fsync (group commit) turns N fsyncs into one.
A job's future resolves only after its transaction committed: an acknowledged write is
on disk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Job = tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future]

MAX_BATCH = 512


class SQLiteThread:
    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str = "sqlite") -> None:
        self._connect = connect
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.commits = 0  # for benchmarks: how many transactions the jobs needed

    async def start(self) -> None:
        self._thread.start()
        await asyncio.wrap_future(self._ready)

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return await asyncio.wrap_future(future)

    async def stop(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join)

    def _main(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        try:
            while True:
                batch, stopping = self._next_batch()
                if batch:
                    self._run_batch(conn, batch)
                if stopping:
                    return
        finally:
            conn.close()

    def _next_batch(self) -> tuple[list[Job], bool]:
        first = self._jobs.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Job]) -> None:
        results: list[tuple[concurrent.futures.Future, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, future in batch:
                # A savepoint per job: one failing job rolls back alone, the others commit.
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((future, None, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((future, result, None))
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:
            if conn.in_transaction:
                conn.rollback()
            for _, future in batch:
                _settle(future, None, exc)
            return
        for future, result, exc in results:
            _settle(future, result, exc)


def _settle(future: concurrent.futures.Future, result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
