"""Replay puts dead or failed deliveries back on the queue; `open_store` reads URLs."""

from __future__ import annotations

import time

import pytest

from kameleoon_relay.store import AttemptOutcome, SQLiteStore, Store, open_store
from tests.store.store_factories import item

NOW = 1_700_000_000.0


async def seeded(url: str) -> Store:
    """Three events to `a` and `b`: received at NOW-3h, NOW-2h, NOW-1h; all dead."""
    store = open_store(url)
    await store.open()
    for hours in (3, 2, 1):
        await store.ingest([item(f"m{hours}", ["a", "b"], received_at=NOW - hours * 3600)])
    for destination in ("a", "b"):
        for record in await store.claim(destination, 10, NOW):
            await store.record_attempt(
                record.id, AttemptOutcome("dead", NOW, status=503, error="gave up: HTTP 503")
            )
    return store


async def test_replay_requeues_dead_deliveries_with_a_fresh_window(db_url: str) -> None:
    store = await seeded(db_url)
    assert await store.replay("dead", now=NOW + 10) == 6
    stats = await store.stats()
    assert stats["deliveries"]["dead"] == 0 and stats["deliveries"]["pending"] == 6
    claimed = await store.claim("a", 10, NOW + 10)
    assert len(claimed) == 3
    assert all(r.window_start == NOW + 10 and r.attempts == 0 for r in claimed)
    detail = await store.get_delivery(claimed[0].id)
    assert detail is not None and detail["replays"] == 1
    assert detail["last_error"] == "gave up: HTTP 503"  # the history stays readable
    await store.close()


async def test_replay_filters_by_time_and_destination(db_url: str) -> None:
    store = await seeded(db_url)
    since = NOW - 2 * 3600
    assert await store.replay("dead", since=since, destination="a", now=NOW) == 2
    dead = await store.list_deliveries(state="dead", limit=100)
    assert len(dead) == 4
    assert {r["message_id"] for r in dead if r["destination"] == "a"} == {"m3"}
    await store.close()


async def test_dry_run_counts_without_changing_anything(db_url: str) -> None:
    store = await seeded(db_url)
    progress: list[tuple[int, int]] = []
    assert await store.replay("dead", dry_run=True, on_progress=lambda *p: progress.append(p)) == 6
    assert (await store.stats())["deliveries"]["dead"] == 6
    assert progress[-1] == (6, 6)
    await store.close()


async def test_replay_reports_progress_in_chunks(tmp_path) -> None:
    store = SQLiteStore(str(tmp_path / "q.db"))
    await store.open()
    await store.ingest([item(f"m{i}", received_at=NOW) for i in range(1200)])
    for record in await store.claim("kameleoon", 2000, NOW):
        await store.record_attempt(record.id, AttemptOutcome("dead", NOW, error="x"))
    progress: list[tuple[int, int]] = []
    assert await store.replay(on_progress=lambda *p: progress.append(p)) == 1200
    assert progress == [(0, 1200), (500, 1200), (1000, 1200), (1200, 1200)]
    await store.close()


async def test_failed_validation_rows_are_not_replayed_but_http_failures_are(
    db_url: str,
) -> None:
    store = open_store(db_url)
    await store.open()
    await store.ingest([item("invalid", error="missing type"), item("rejected")])
    [record] = await store.claim("kameleoon", 10, time.time() + 1)
    await store.record_attempt(record.id, AttemptOutcome("failed", time.time(), status=400))
    assert await store.replay("failed") == 1
    [failed] = await store.list_deliveries(state="failed")
    assert failed["message_id"] == "invalid"
    with pytest.raises(ValueError, match="dead or failed"):
        await store.replay("delivered")
    await store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://localhost/relay", "not supported yet"),
        ("mysql://localhost/relay", "unknown URL"),
        ("sqlite:///", "no file path"),
        ("sqlite:///x.db?journal=off", "unknown database option"),
        ("sqlite:///x.db?synchronous=sometimes", "synchronous must be"),
    ],
)
def test_open_store_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url)


def test_open_store_reads_sqlite_paths() -> None:
    store = open_store("sqlite:////var/lib/relay.db?synchronous=normal")
    assert isinstance(store, SQLiteStore)
    assert (store.path, store.synchronous) == ("/var/lib/relay.db", "NORMAL")
    relative = open_store("sqlite:///./.kameleoon-relay/relay.db")
    assert isinstance(relative, SQLiteStore) and relative.path == "./.kameleoon-relay/relay.db"


async def test_in_memory_store_works() -> None:
    store = open_store("sqlite:///:memory:")
    await store.open()
    assert (await store.ingest([item("m1")])).accepted == 1
    await store.close()
