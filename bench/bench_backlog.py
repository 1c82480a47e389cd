"""Time per event as the queue grows: the store's work for delivery and ingest at 10k,
100k and 1M queued events, with the process's RSS and the database's size.

Runs the SQLite store in-process (no HTTP: the network cost does not depend on the
backlog). At each size it times claiming and recording deliveries, 16 at a time as a
destination worker does, and ingesting batches of 100, then grows the backlog.

    .venv/bin/python bench/bench_backlog.py [--sizes 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe

from kameleoon_relay.store import ClaimedDelivery, DeliveryOutcome, EventRecord, SentRequest
from kameleoon_relay.store.sqlite import SQLiteStore

EVENT = orjson.loads((Path(__file__).parent / "realistic_event.json").read_bytes())
SAMPLE = 2000  # events timed at each size


def records(n: int) -> list[EventRecord]:
    run = uuid.uuid4().hex[:8]
    now = time.time()
    out = []
    for i in range(n):
        event = {**EVENT, "messageId": f"{run}-{i}"}
        out.append(EventRecord(f"{run}-{i}", "web", orjson.dumps(event), now, "u1", ("kameleoon",)))
    return out


async def grow(store: SQLiteStore, n: int) -> None:
    for start in range(0, n, 1000):
        await store.ingest(records(min(1000, n - start)))


def delivered(claimed: list[ClaimedDelivery], at: float) -> list[DeliveryOutcome]:
    """Each claimed delivery recorded delivered, with its request (as the relay keeps it)."""
    return [
        DeliveryOutcome(
            c.id,
            c.lease,
            "delivered",
            at,
            actions="logEvent",
            requests=(
                SentRequest(
                    "Track Calls",
                    "logEvent",
                    "delivered",
                    url="http://127.0.0.1:9/segmentio",
                    headers={"authorization": "Basic ***"},
                    body=c.body,
                    status=200,
                ),
            ),
        )
        for c in claimed
    ]


async def time_delivery(store: SQLiteStore) -> float:
    """Seconds per event to claim 16, record them delivered (with their request)."""
    done = 0
    started = time.perf_counter()
    while done < SAMPLE:
        claimed = await store.claim("kameleoon", 16, time.time(), 300)
        outcomes = delivered(claimed, time.time())
        await store.record(outcomes)
        done += len(claimed)
    return (time.perf_counter() - started) / done


async def time_ingest(store: SQLiteStore) -> float:
    batch = [records(100) for _ in range(SAMPLE // 100)]
    started = time.perf_counter()
    for items in batch:
        await store.ingest(items)
    return (time.perf_counter() - started) / SAMPLE


def database_size(path: Path) -> int:
    return sum(
        os.path.getsize(path.with_name(path.name + suffix))
        for suffix in ("", "-wal", "-shm")
        if path.with_name(path.name + suffix).exists()
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    print(describe())
    print(f"{'queued':>10} {'deliver us/ev':>14} {'ingest us/ev':>13} {'RSS MB':>8} {'db MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "relay.db"
        store = SQLiteStore(str(path), dedupe_window=86400)
        await store.open()
        queued = 0
        for size in sorted(args.sizes):
            await grow(store, size - queued)
            queued = size
            deliver = await time_delivery(store)
            ingest = await time_ingest(store)  # as many in as were delivered: the size holds
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{size:>10,} {deliver * 1e6:>14.1f} {ingest * 1e6:>13.1f} "
                f"{rss:>8.0f} {database_size(path) / 1e6:>8.0f}"
            )
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
