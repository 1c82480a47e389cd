"""Crash safety: acknowledged events survive SIGKILL; in-flight work is picked up again,
on reopening (SQLite, one relay per file) or when its lease runs out (both stores)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kameleoon_relay.store import DeliveryOutcome, DeliveryQuery, open_store
from kameleoon_relay.store.owner import serving_identity
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


async def test_reopening_moves_in_flight_back_to_pending(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'relay.db'}"
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


async def test_work_of_a_dead_process_is_claimed_again_once_its_lease_ends(db_url: str) -> None:
    dead = open_store(db_url, dedupe_window=WINDOW)
    await dead.open()
    now = time.time()
    await dead.ingest([record("m1", received_at=now), record("m2", received_at=now)])
    [lost] = await dead.claim("kameleoon", 1, now, LEASE)
    await dead.close()  # died with m1 in flight, lease running

    other = open_store(db_url, dedupe_window=WINDOW)
    # recover=False: what a PostgreSQL relay always does (its peers' work is theirs);
    # no restart is needed for the lost work to come back.
    await other.open(recover=False)
    assert (await other.stats())["deliveries"]["in_flight"] == 1
    [m2] = await other.claim("kameleoon", 10, now + 1, LEASE)
    assert m2.id != lost.id
    [again] = await other.claim("kameleoon", 10, now + LEASE + 1, LEASE)
    assert again.id == lost.id and again.lease == now + 2 * LEASE + 1
    # The dead process's outcome, recorded late under the old lease, is ignored.
    late = DeliveryOutcome(lost.id, lost.lease, "delivered", now, status=200)
    assert await other.record([late]) == 0
    done = DeliveryOutcome(again.id, again.lease, "delivered", now, status=200)
    assert await other.record([done]) == 1
    await other.close()


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
    if db_url.startswith("sqlite"):
        assert stats["deliveries"]["in_flight"] == 0  # recovered on open
    else:  # shared: held until the dead writer's leases end, then anyone's again
        held = await store.list_deliveries(DeliveryQuery(states=("in_flight",)), limit=10_000)
        assert len(held) == stats["deliveries"]["in_flight"] > 0
        held_ids = {row["id"] for row in held}
        early = await store.claim("kameleoon", 10_000, 1e12 + 1, 30)  # the pending ones
        assert held_ids.isdisjoint(claimed.id for claimed in early)
        again = await store.claim("kameleoon", 10_000, 1e12 + 31, 30)
        assert held_ids == {claimed.id for claimed in again}
    total = sum(stats["deliveries"].values())
    assert total == stats["events"]["received"]  # every event kept its delivery
    stored: set[str] = set()
    before: int | None = None
    while page := await store.list_deliveries(DeliveryQuery(before_id=before), limit=1000):
        stored |= {row["message_id"] for row in page}
        before = page[-1]["id"]
    assert set(acknowledged) <= stored
    await store.close()


async def test_the_work_of_a_dead_owner_is_given_back_at_once(db_url: str) -> None:
    """A delivery process that died: `serve` gives back what it held, not at lease end;
    another process's claims stay its own."""
    store = open_store(db_url, dedupe_window=WINDOW)
    await store.open()
    try:
        now = time.time()
        await store.ingest([record(f"o{i}", received_at=now) for i in range(6)])
        store.owner = "test|dead|1.1"
        dead = await store.claim("kameleoon", 4, now, LEASE)
        store.owner = "test|alive|2.1"
        alive = await store.claim("kameleoon", 2, now, LEASE)
        assert await store.release_owner("test|dead|1.1") == 4
        again = await store.claim("kameleoon", 10, now, LEASE)  # the old lease still runs
        assert sorted(c.id for c in again) == sorted(c.id for c in dead)
        assert again[0].attempts == dead[0].attempts  # no attempt counted
        assert (await store.stats())["deliveries"]["in_flight"] == 6
        assert await store.release_owner("test|dead|1.1") == 0  # claimed again since
        assert {c.id for c in alive}.isdisjoint(c.id for c in again)
    finally:
        await store.close()


async def test_postgres_start_gives_back_the_work_of_a_relay_that_died_here(pg_url: str) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    )
    dead_pid = int(ended.stdout)
    identity = serving_identity()  # this test process: alive
    parts = identity.split("|")
    dead = "|".join([*parts[:3], str(dead_pid), "12345"]) + "|1.1"
    elsewhere = "|".join(["another-host", *parts[1:]]) + "|1.1"
    store = open_store(pg_url, dedupe_window=WINDOW)
    await store.open()
    try:
        now = time.time()
        await store.ingest([record(f"p{i}", received_at=now) for i in range(3)])
        for owner in (dead, f"{identity}|1.1", elsewhere):
            store.owner = owner
            assert len(await store.claim("kameleoon", 1, now, LEASE)) == 1
    finally:
        await store.close()
    restarted = open_store(pg_url, dedupe_window=WINDOW)
    await restarted.open()  # recover: the dead relay's claim comes back, only that one
    try:
        assert (await restarted.stats())["deliveries"]["in_flight"] == 2
        [back] = await restarted.claim("kameleoon", 10, now, LEASE)
        assert back.message_id == "p0"
    finally:
        await restarted.close()
