"""One thread owns the SQLite connection; jobs queued together share one commit.

SQLite allows one writer at a time, so a single connection loses nothing, and batching
the jobs that queued up during the previous fsync (group commit) turns N fsyncs into one.
A job's future resolves only after its transaction committed: an acknowledged write is
on disk.

Delivery's jobs (claims, attempt records) are `urgent`: they are taken before queued
ingest, so a burst of ingest never starves delivery. Jobs that need not survive power
loss (a lost attempt record only means a resend) are not `durable`: a transaction of
such jobs alone commits without fsync, and the next durable commit syncs them too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Job = tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future, bool]

MAX_BATCH = 512
# Another process (a delivery process, the replay CLI) may hold the write lock. SQLite's
# own busy handler sleeps 1, 2, 5, 10 ms... between tries: behind a short ingest commit
# that costs delivery far more than the commit took. We try again sooner.
LOCK_WAIT_SECONDS = 30.0
_FIRST_RETRY, _LONGEST_RETRY = 0.0001, 0.002
_LOCK_ERRORS = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SQLiteThread:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        name: str = "sqlite",
        synchronous: str = "FULL",
    ) -> None:
        self._connect = connect
        self._urgent: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._normal: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._available = threading.Semaphore(0)  # jobs queued in either queue
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._synchronous = synchronous  # for durable transactions
        self._current_synchronous = synchronous
        self.commits = 0  # for benchmarks: how many transactions the jobs needed

    async def start(self) -> None:
        self._thread.start()
        await asyncio.wrap_future(self._ready)

    async def run(
        self,
        job: Callable[[sqlite3.Connection], T],
        *,
        urgent: bool = False,
        durable: bool = True,
    ) -> T:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        (self._urgent if urgent else self._normal).put((job, future, durable))
        self._available.release()
        return await asyncio.wrap_future(future)

    async def stop(self) -> None:
        if self._thread.is_alive():
            self._normal.put(None)  # after every job queued before it
            self._available.release()
            await asyncio.to_thread(self._thread.join)

    def _main(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        # From here BEGIN IMMEDIATE is the only statement that waits for the write lock,
        # and `_begin` does the waiting (reads never wait in WAL mode).
        conn.execute("PRAGMA busy_timeout = 0")
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

    def _take(self) -> Job | None:
        try:
            return self._urgent.get_nowait()
        except queue.Empty:
            return self._normal.get_nowait()

    def _next_batch(self) -> tuple[list[Job], bool]:
        self._available.acquire()
        batch: list[Job] = []
        while True:
            job = self._take()
            if job is None:
                return batch, True
            batch.append(job)
            if len(batch) >= MAX_BATCH or not self._available.acquire(blocking=False):
                return batch, False

    def _set_synchronous(self, conn: sqlite3.Connection, durable: bool) -> None:
        wanted = self._synchronous if durable else "NORMAL"
        if wanted != self._current_synchronous:
            conn.execute(f"PRAGMA synchronous = {wanted}")
            self._current_synchronous = wanted

    def _run_batch(self, conn: sqlite3.Connection, batch: list[Job]) -> None:
        results: list[tuple[concurrent.futures.Future, Any, BaseException | None]] = []
        try:
            self._set_synchronous(conn, any(durable for _, _, durable in batch))
            _begin(conn)
            for job, future, _ in batch:
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
            for _, future, _ in batch:
                _settle(future, None, exc)
            return
        for future, result, exc in results:
            _settle(future, result, exc)


def _begin(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, tried again every 0.1 ms to 2 ms while another process writes."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    pause = _FIRST_RETRY
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode not in _LOCK_ERRORS:
                raise
            if time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_RETRY)


def _settle(future: concurrent.futures.Future, result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
