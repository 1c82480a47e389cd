"""The SQLite store's own cost per event, in-process: ingest in batches of 100 events with
realistic ~2 KB bodies, claim and record in batches of --claim-batch, over a backlog of
--backlog queued events.

    .venv/bin/python bench/bench_store_ops.py [--backlog 20000] [--claim-batch 16]

Prints microseconds per event for each operation (mean over the rounds: checkpoints
are part of the cost), and the database's size, so that two versions of the store can
be compared side by side (run it with each on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_backlog import delivered, records  # the same events and outcomes

from kameleoon_relay.store.sqlite import SQLiteStore

BATCH = 100


async def one_round(store: SQLiteStore, claim_batch: int) -> tuple[float, float, float]:
    items = records(BATCH)
    before = time.perf_counter()
    await store.ingest(items)
    ingested = time.perf_counter()
    claiming = recording = 0.0
    for _ in range(BATCH // claim_batch):  # about as many out as in: the backlog holds
        started = time.perf_counter()
        claimed = await store.claim("kameleoon", claim_batch, time.time(), 300)
        claiming += time.perf_counter() - started
        outcomes = delivered(claimed, time.time())
        started = time.perf_counter()
        await store.record(outcomes)
        recording += time.perf_counter() - started
    n = BATCH // claim_batch * claim_batch
    return (ingested - before) / BATCH, claiming / n, recording / n


def bytes_written() -> int:
    """Bytes this process handed to write() so far (Linux)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--claim-batch", type=int, default=BATCH, help="deliveries per claim")
    parser.add_argument("--page-size", type=int, help="create the file with this page size")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "relay.db"
        if args.page_size:  # the store keeps an existing file's page size
            conn = sqlite3.connect(path)
            conn.execute(f"PRAGMA page_size = {args.page_size}")
            conn.execute("VACUUM")
            conn.close()
        store = SQLiteStore(str(path), dedupe_window=86400)
        await store.open()
        for start in range(0, args.backlog, 1000):
            await store.ingest(records(min(1000, args.backlog - start)))
        for _ in range(3):  # warm up
            await one_round(store, args.claim_batch)
        # CPU time and bytes written: steadier than wall time on a shared machine.
        cpu, written = time.process_time(), bytes_written()
        rounds = [await one_round(store, args.claim_batch) for _ in range(args.rounds)]
        events = args.rounds * BATCH
        cpu, written = (time.process_time() - cpu) / events, (bytes_written() - written) / events
        await store.close()
        size = sum(f.stat().st_size for f in Path(folder).iterdir())
    ingest, claim, record = (statistics.fmean(column) * 1e6 for column in zip(*rounds, strict=True))
    print(
        f"{args.label:<10} ingest {ingest:6.1f}  claim {claim:6.1f}  record {record:6.1f}"
        f"  claim+record {claim + record:6.1f}  us/event"
        f"  | all: cpu {cpu * 1e6:5.1f} us, written {written / 1e3:5.1f} KB /event"
        f"  | database {size / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    asyncio.run(main())
