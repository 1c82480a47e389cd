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
import contextlib
import errno
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kameleoon_relay.store.errors import StoreFull

T = TypeVar("T")
Job = tuple[Callable[[sqlite3.Connection], Any], concurrent.futures.Future, bool]

MAX_BATCH = 512
# Another process (a delivery process, the replay CLI) may hold the write lock. SQLite's
# own busy handler sleeps 1, 2, 5, 10 ms... between tries: behind a short ingest commit
# that costs delivery far more than the commit took. We try again sooner.
LOCK_WAIT_SECONDS = 30.0
_FIRST_RETRY, _LONGEST_RETRY = 0.0001, 0.002
_LOCK_ERRORS = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
# A full disk: the write-ahead log is checkpointed into the database and truncated (its
# pages are often most of what the store takes), at most this often.
CHECKPOINT_WHEN_FULL_SECONDS = 1.0
# A checkpoint copies the log's pages into the database file, which may have to grow: a
# log that filled the disk could never be checkpointed, and the store would stay full
# after space came back. So the log is checkpointed before it takes more than this share
# of the free space (checked at most every WAL_BUDGET_SECONDS), never later than the
# store's own threshold, nor sooner than WAL_MIN_BYTES.
WAL_SHARE_OF_FREE_SPACE = 0.25
WAL_MIN_BYTES = 256 * 1024
WAL_BUDGET_SECONDS = 0.25

log = logging.getLogger("kameleoon_relay.store")


class SQLiteThread:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        name: str = "sqlite",
        synchronous: str = "FULL",
        wal_bytes: int | None = None,
        free_bytes: Callable[[], int | None] | None = None,
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
        self.full = False  # the last transaction failed for want of disk space
        self._checkpointed = 0.0  # monotonic time of the last checkpoint for space
        self._wal_bytes = wal_bytes  # the checkpoint threshold with room to spare
        self._free_bytes = free_bytes  # on the store's disk; None: not on a disk
        self._wal_pages = 0  # the threshold set on the connection now
        self._page_size = 0  # the connection's, read once
        self._budgeted = 0.0  # monotonic time the threshold was last checked

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
        full = False
        try:
            self._set_synchronous(conn, any(durable for _, _, durable in batch))
            _begin(conn)
            for job, future, _ in batch:
                # A savepoint per job: one failing job rolls back alone, the others commit.
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                except Exception as exc:
                    full = full or is_full(exc)
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((future, None, _as_full(exc) if is_full(exc) else exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((future, result, None))
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:
            # SQLite may have rolled the transaction back itself (a full disk does that):
            # the savepoint is gone then, and this is the error to report.
            full = full or is_full(exc)
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.rollback()
            failure = _as_full(exc) if full else exc
            for _, future, _ in batch:
                _settle(future, None, failure)
            self._after(conn, full)
            return
        self._after(conn, full)
        for future, result, exc in results:
            _settle(future, result, exc)

    def _after(self, conn: sqlite3.Connection, full: bool) -> None:
        """Keep track of the disk: full, checkpoint and truncate the write-ahead log, so
        that space freed on the disk, and the log's own, serve the next writes."""
        if full and not self.full:
            log.error("the disk holding the store is full: writes fail until space returns")
        elif self.full and not full:
            log.warning("the disk holding the store has room again: writes go on")
        self.full = full
        now = time.monotonic()
        if now - self._budgeted >= WAL_BUDGET_SECONDS:
            self._budgeted = now
            self._budget_wal(conn)
        if full and now - self._checkpointed >= CHECKPOINT_WHEN_FULL_SECONDS:
            self._checkpointed = now
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _budget_wal(self, conn: sqlite3.Connection) -> None:
        """Lower the automatic checkpoint threshold as the disk fills (see WAL_SHARE_...)."""
        if self._wal_bytes is None or self._free_bytes is None:
            return
        free = self._free_bytes()
        if free is None:
            return
        budget = min(self._wal_bytes, max(WAL_MIN_BYTES, int(free * WAL_SHARE_OF_FREE_SPACE)))
        with contextlib.suppress(sqlite3.Error):
            if not self._page_size:
                self._page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            pages = budget // self._page_size
            if pages != self._wal_pages:
                conn.execute(f"PRAGMA wal_autocheckpoint = {pages}")
                self._wal_pages = pages


def is_full(exc: BaseException) -> bool:
    """Whether SQLite refused for want of disk space (or the OS did, under it)."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
            "disk is full" in str(exc)
        )
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


def _as_full(exc: BaseException) -> StoreFull:
    failure = StoreFull("the disk holding the store is full")
    failure.__cause__ = exc
    return failure


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


class SQLiteReader:
    """Reads on a connection and a thread of their own: they never wait behind the
    writer's queue, nor fail with its transaction (a full disk, a long lock). In WAL mode
    a reader sees the last commit and never blocks or is blocked by the writer."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str = "sqlite-read"):
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name)

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self._executor.submit(self._call, job))

    def _call(self, job: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._connect()
        return job(self._conn)

    async def stop(self) -> None:
        await asyncio.wrap_future(self._executor.submit(self._close))
        self._executor.shutdown(wait=False)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
