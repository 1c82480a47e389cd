"""A full disk under the SQLite store: once space comes back, writes go on without a
restart. The trap this guards against: a write-ahead log that fills the disk can never be
checkpointed (the database file has no room to grow), so the store would stay full with
free space in sight. Run on a real tmpfs, as root (CI is)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kameleoon_relay.store import DeliveryOutcome, open_store
from kameleoon_relay.store.errors import StoreFull
from tests.store.store_factories import record, track

PAD = "x" * 400


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    assert mounted.returncode == 0, f"this test mounts a tmpfs (as root): {mounted.stderr}"
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _batch(number: int) -> list:
    return [
        record(f"m{number}-{i}", event={**track(f"m{number}-{i}"), "properties": {"pad": PAD}})
        for i in range(50)
    ]


async def _deliver_all(store) -> int:
    delivered = 0
    while claimed := await store.claim("kameleoon", 16, time.time(), 60):
        now = time.time()
        outcomes = [DeliveryOutcome(c.id, c.lease, "delivered", now, status=200) for c in claimed]
        delivered += await store.record(outcomes)
    return delivered


async def test_writes_go_on_once_the_disk_has_room_again(small_disk: Path) -> None:
    store = open_store(f"sqlite:///{small_disk / 'relay.db'}", dedupe_window=3600)
    await store.open()
    try:
        stored = 0
        with pytest.raises(StoreFull):
            for number in range(10_000):
                await store.ingest(_batch(number))
                stored += 50
        assert stored > 0
        subprocess.run(["mount", "-o", "remount,size=12m", str(small_disk)], check=True)
        # Everything queued is delivered, and far more than the disk's size is written
        # through the log afterwards: each write needs the log checkpointed in time.
        assert await _deliver_all(store) == stored
        for number in range(10_000, 10_040):
            await store.ingest(_batch(number))
            assert await _deliver_all(store) == 50
        wal = os.path.getsize(small_disk / "relay.db-wal")
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        assert free > 2_000_000, (wal, free)
        assert not await store.disk_full()
    finally:
        await store.close()
