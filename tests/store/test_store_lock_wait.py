"""SQLite's write lock held by another process: the store waits for it (in short steps),
and gives up with the database's own error only after `LOCK_WAIT_SECONDS`."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from kameleoon_relay.store import SQLiteStore, _thread
from tests.store.store_factories import record


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another connection (as another process would) takes the write lock for `seconds`."""
    taken = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        threading.Event().wait(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    return thread


async def test_a_write_waits_for_another_writer_then_goes_through(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "relay.db"), dedupe_window=3600.0)
    await store.open()
    try:
        holder = hold_write_lock(tmp_path / "relay.db", 0.3)
        result = await store.ingest([record("m1")])
        holder.join()
        assert result.accepted == 1
        assert await store.queued() == 1
    finally:
        await store.close()


async def test_a_write_lock_held_too_long_fails_the_write_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_thread, "LOCK_WAIT_SECONDS", 0.2)
    store = SQLiteStore(str(tmp_path / "relay.db"), dedupe_window=3600.0)
    await store.open()
    try:
        holder = hold_write_lock(tmp_path / "relay.db", 1.0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await store.ingest([record("m1")])
        holder.join()
        await asyncio.sleep(0)
        assert (await store.ingest([record("m2")])).accepted == 1  # the store goes on
    finally:
        await store.close()
