"""Crash safety: acknowledged events survive SIGKILL; in-flight work is picked up again."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kameleoon_relay.store import AttemptOutcome, open_store
from tests.store.store_factories import item

# Ingests batches forever, printing each batch's ids only after ingest() returned.
WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from kameleoon_relay.store import open_store
    from tests.store.store_factories import item

    async def main():
        store = open_store(sys.argv[1])
        await store.open()
        n = 0
        while True:
            batch = [item(f"m{n + i}") for i in range(20)]
            await store.ingest(batch)
            await store.claim("kameleoon", 5, 1e12)  # leave work in flight too
            print(" ".join(b.message_id for b in batch), flush=True)
            n += 20

    asyncio.run(main())
    """
)


async def test_reopening_moves_in_flight_back_to_pending(db_url: str) -> None:
    store = open_store(db_url)
    await store.open()
    now = time.time()
    await store.ingest([item("m1", received_at=now), item("m2", received_at=now)])
    claimed = await store.claim("kameleoon", 2, now)
    await store.record_attempt(claimed[0].id, AttemptOutcome("delivered", now, status=200))
    await store.close()  # "crash" with m2 in flight

    store = open_store(db_url)
    await store.open()
    [again] = await store.claim("kameleoon", 10, now)
    assert again.id == claimed[1].id
    assert (await store.stats())["deliveries"]["delivered"] == 1
    await store.close()


async def test_a_second_process_can_open_without_stealing_in_flight_work(db_url: str) -> None:
    server = open_store(db_url)
    await server.open()
    now = time.time()
    await server.ingest([item("m1", received_at=now)])
    [record] = await server.claim("kameleoon", 1, now)

    cli = open_store(db_url)
    await cli.open(recover=False)  # e.g. `kameleoon-relay replay` next to a running server
    assert (await cli.stats())["deliveries"]["in_flight"] == 1
    await cli.close()
    await server.record_attempt(record.id, AttemptOutcome("delivered", now, status=200))
    assert (await server.stats())["deliveries"]["delivered"] == 1
    await server.close()


async def test_sigkill_loses_no_acknowledged_event(db_url: str, tmp_path: Path) -> None:
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

    store = open_store(db_url)
    await store.open()
    stats = await store.stats()
    assert stats["events"]["received"] >= len(acknowledged)
    assert stats["deliveries"]["in_flight"] == 0  # recovered on open
    total = sum(stats["deliveries"].values())
    assert total == stats["events"]["received"]  # every event kept its delivery
    stored = set()
    offset = 0
    while page := await store.list_deliveries(limit=1000, offset=offset):
        stored |= {row["message_id"] for row in page}
        offset += len(page)
    assert set(acknowledged) <= stored
    await store.close()
