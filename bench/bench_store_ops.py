"""The SQLite store's own cost per event, in-process: ingest, claim and record, in batches
of 100 events with realistic ~2 KB bodies, over a backlog of --backlog queued events.

    .venv/bin/python bench/bench_store_ops.py [--backlog 20000] [--rounds 30]

Prints microseconds per event for each operation (mean over the rounds: checkpoints
are part of the cost), so that two versions of the store can be compared side by side
(run it with each on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kameleoon_relay.store import DeliveryOutcome, EventRecord, SentRequest
from kameleoon_relay.store.sqlite import SQLiteStore

EVENT = orjson.loads((Path(__file__).parent / "realistic_event.json").read_bytes())
BATCH = 100


def records(n: int) -> list[EventRecord]:
    run = uuid.uuid4().hex[:8]
    now = time.time()
    return [
        EventRecord(
            f"{run}-{i}",
            "web",
            orjson.dumps({**EVENT, "messageId": f"{run}-{i}"}),
            now,
            "u1",
            ("kameleoon",),
        )
        for i in range(n)
    ]


def delivered(claimed: list, at: float) -> list[DeliveryOutcome]:
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


async def one_round(store: SQLiteStore) -> tuple[float, float, float]:
    items = records(BATCH)
    started = time.perf_counter()
    await store.ingest(items)
    ingested = time.perf_counter()
    claimed = await store.claim("kameleoon", BATCH, time.time(), 300)
    claimed_at = time.perf_counter()
    outcomes = delivered(claimed, time.time())
    built = time.perf_counter()
    await store.record(outcomes)
    recorded = time.perf_counter()
    n = len(claimed)
    return (
        (ingested - started) / BATCH,
        (claimed_at - ingested) / n,
        (recorded - built) / n,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "relay.db"
        store = SQLiteStore(str(path), dedupe_window=86400)
        await store.open()
        for start in range(0, args.backlog, 1000):
            await store.ingest(records(min(1000, args.backlog - start)))
        for _ in range(3):  # warm up
            await one_round(store)
        rounds = [await one_round(store) for _ in range(args.rounds)]
        await store.close()
        size = sum(f.stat().st_size for f in Path(folder).iterdir())
    ingest, claim, record = (statistics.fmean(column) * 1e6 for column in zip(*rounds, strict=True))
    print(
        f"{args.label:<10} ingest {ingest:6.1f}  claim {claim:6.1f}  record {record:6.1f}"
        f"  claim+record {claim + record:6.1f}  us/event"
        f"  database {size / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    asyncio.run(main())
