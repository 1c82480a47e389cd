"""Crash safety: acknowledged events survive SIGKILL; in-flight work is picked up again."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kameleoon_relay.store import DeliveryOutcome, DeliveryQuery, open_store
from tests.store.store_factories import record

WINDOW = 3600.0
LEASE = 30.0

# Ingests batches forever, printing each batch's ids only after ingest() returned.
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from kameleoon_relay.store import open_store
    from tests.store.store_factories import record

    async def main():
        store = open_store(sys.argv[1], dedupe_window=3600)
        await store.open()
        n = 0
        while True:
            batch = [record(f"m{n + i}") for i in range(20)]
            await store.ingest(batch)
            await store.claim("kameleoon", 5, 1e12, 30)  # leave work in flight too
            print(" ".join(b.message_id for b in batch), flush=True)
            n += 20

    asyncio.run(main())
    """
)


async def test_reopening_moves_in_flight_back_to_pending(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=WINDOW)
    await store.open()
    now = time.time()
    await store.ingest([record("m1", received_at=now), record("m2", received_at=now)])
    claimed = await store.claim("kameleoon", 2, now, LEASE)
    done = DeliveryOutcome(claimed[0].id, claimed[0].lease, "delivered", now, status=200)
    assert await store.record([done]) == 1
    await store.close()  # "crash" with m2 in flight

    store = open_store(db_url, dedupe_window=WINDOW)
    await store.open()
    assert (await store.stats())["deliveries"]["in_flight"] == 0
    [again] = await store.claim("kameleoon", 10, now, LEASE)  # before the old lease ended
    assert again.id == claimed[1].id
    assert (await store.stats())["deliveries"]["delivered"] == 1
    await store.close()


async def test_a_second_process_can_open_without_stealing_in_flight_work(db_url: str) -> None:
    server = open_store(db_url, dedupe_window=WINDOW)
    await server.open()
    now = time.time()
    await server.ingest([record("m1", received_at=now)])
    [claimed] = await server.claim("kameleoon", 1, now, LEASE)

    cli = open_store(db_url, dedupe_window=WINDOW)
    await cli.open(recover=False)  # e.g. `kameleoon-relay replay` next to a running server
    assert (await cli.stats())["deliveries"]["in_flight"] == 1
    await cli.close()
    done = DeliveryOutcome(claimed.id, claimed.lease, "delivered", now, status=200)
    assert await server.record([done]) == 1
    assert (await server.stats())["deliveries"]["delivered"] == 1
    await server.close()


async def test_sigkill_loses_no_acknowledged_event(db_url: str) -> None:
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=repo,
    )
    acknowledged: list[str] = []
    assert proc.stdout is not None
    while len(acknowledged) < 400:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "writer exited"
        acknowledged += line.split()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acknowledged += proc.stdout.read().split()  # lines printed before the kill landed

    store = open_store(db_url, dedupe_window=WINDOW)
    await store.open()
    stats = await store.stats()
    assert stats["events"]["received"] >= len(acknowledged)
    assert stats["deliveries"]["in_flight"] == 0  # recovered on open
    total = sum(stats["deliveries"].values())
    assert total == stats["events"]["received"]  # every event kept its delivery
    stored: set[str] = set()
    before: int | None = None
    while page := await store.list_deliveries(DeliveryQuery(before_id=before), limit=1000):
        stored |= {row["message_id"] for row in page}
        before = page[-1]["id"]
    assert set(acknowledged) <= stored
    await store.close()
