"""Replay puts finished deliveries back on the queue; retention prunes what is done;
`open_store` reads URLs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kameleoon_relay.delivery.replay import ReplayError, ReplaySelection, replay
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryQuery,
    SentRequest,
    SQLiteStore,
    Store,
    open_store,
)
from tests.store.store_factories import API_KEY, config_for, record

NOW = 1_700_000_000.0
HOUR = 3600.0
LEASE = 30.0
SENT = SentRequest("Track Calls", "logEvent", "delivered", url="https://a.example/", status=200)
PIPELINE = Pipeline(config_for({"a": "https://a.example/", "b": "https://b.example/"}))


async def finish(
    store: Store, destination: str, state: str, at: float = NOW, **fields: object
) -> list[ClaimedDelivery]:
    claimed: list[ClaimedDelivery] = await store.claim(destination, 10_000, at, LEASE)
    outcomes = [DeliveryOutcome(c.id, c.lease, state, at, **fields) for c in claimed]  # type: ignore[arg-type]
    assert await store.record(outcomes) == len(claimed)
    return claimed


async def seeded(url: str) -> Store:
    """Three events to `a` and `b`: received at NOW-3h, NOW-2h, NOW-1h (user u3, u2, u1);
    all dead."""
    store = open_store(url, dedupe_window=HOUR)
    await store.open()
    for hours in (3, 2, 1):
        await store.ingest(
            [record(f"m{hours}", ["a", "b"], received_at=NOW - hours * HOUR, user_id=f"u{hours}")]
        )
    for destination in ("a", "b"):
        await finish(
            store,
            destination,
            "dead",
            status=503,
            error="gave up: HTTP 503",
            requests=(SentRequest("Track Calls", "logEvent", "dead", status=503),),
        )
    return store


async def test_replay_requeues_dead_deliveries_with_a_fresh_window(db_url: str) -> None:
    store = await seeded(db_url)
    report = await replay(store, PIPELINE, ReplaySelection("dead"), now=NOW + 10)
    assert (report.matched, report.requeued, report.dry_run) == (6, 6, False)
    assert report.to_dict() == {"matched": 6, "requeued": 6, "dry_run": False}
    stats = await store.stats()
    assert stats["deliveries"]["dead"] == 0 and stats["deliveries"]["pending"] == 6
    assert await store.claim("a", 10, NOW + 9, LEASE) == []  # due from the replay on
    claimed = await store.claim("a", 10, NOW + 10, LEASE)
    assert len(claimed) == 3
    assert all(c.window_start == NOW + 10 and c.attempts == 0 for c in claimed)
    assert all(c.done == frozenset() for c in claimed)
    detail = await store.get_delivery(claimed[0].id)
    assert detail is not None and detail["replays"] == 1
    assert detail["last_error"] == "gave up: HTTP 503"  # the history stays readable
    assert [a["outcome"] for a in detail["history"]] == ["dead"]
    await store.close()


async def test_replay_selects_by_time_destination_message_and_user(db_url: str) -> None:
    store = await seeded(db_url)

    async def requeued(**selection: object) -> set[tuple[str, str]]:
        before = {
            (r["message_id"], r["destination"])
            for r in await store.list_deliveries(DeliveryQuery(states=("dead",)), 100)
        }
        report = await replay(store, PIPELINE, ReplaySelection(**selection), now=NOW)  # type: ignore[arg-type]
        after = {
            (r["message_id"], r["destination"])
            for r in await store.list_deliveries(DeliveryQuery(states=("dead",)), 100)
        }
        assert report.requeued == len(before - after)
        return before - after

    assert await requeued(since=NOW - 2 * HOUR, destination="a") == {("m2", "a"), ("m1", "a")}
    assert await requeued(until=NOW - 2 * HOUR) == {("m3", "a"), ("m3", "b")}
    assert await requeued(message_id="m2") == {("m2", "b")}
    assert await requeued(user_id="u1") == {("m1", "b")}
    assert await requeued() == set()  # nothing dead left
    await store.close()


async def test_a_dry_run_changes_nothing_and_shows_the_plan(db_url: str) -> None:
    store = await seeded(db_url)
    progress: list[tuple[int, int]] = []
    report = await replay(
        store,
        PIPELINE,
        ReplaySelection("dead"),
        dry_run=True,
        on_progress=lambda *p: progress.append(p),
    )
    assert (report.matched, report.requeued) == (6, 0)
    assert report.plan == {"a": {"logEvent": 3}, "b": {"logEvent": 3}}
    assert report.example is not None
    assert report.example["request"]["headers"]["authorization"] == "Basic ***"
    assert report.example["request"]["json"]["messageId"] in {"m1", "m2", "m3"}
    assert API_KEY not in repr(report.to_dict())
    assert set(report.to_dict()) == {"matched", "requeued", "dry_run", "plan", "example"}
    assert (await store.stats())["deliveries"]["dead"] == 6
    assert progress[0] == (0, 6) and progress[-1] == (6, 6)
    await store.close()


async def test_a_dry_run_reports_destinations_no_longer_enabled(db_url: str) -> None:
    store = await seeded(db_url)
    only_a = Pipeline(config_for({"a": "https://a.example/"}))
    report = await replay(store, only_a, ReplaySelection("dead"), dry_run=True)
    assert report.plan == {"a": {"logEvent": 3}, "b": {"destination disabled": 3}}
    await store.close()


async def test_replay_of_state_all_takes_every_finished_delivery(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=HOUR)
    await store.open()
    await store.ingest([record(f"m{i}", ["a"], received_at=NOW) for i in range(5)])
    claimed = await store.claim("a", 10, NOW, LEASE)
    states = ["delivered", "failed", "dead", "filtered"]
    await store.record(
        [DeliveryOutcome(c.id, c.lease, s, NOW) for c, s in zip(claimed, states, strict=False)]  # type: ignore[arg-type]
    )
    # claimed[4] stays in flight: never replayed.
    report = await replay(store, PIPELINE, ReplaySelection("all"), now=NOW + 1)
    assert (report.matched, report.requeued) == (4, 4)
    stats = await store.stats()
    assert stats["deliveries"]["pending"] == 4 and stats["deliveries"]["in_flight"] == 1
    for state in ("delivered", "failed", "filtered"):
        assert (await replay(store, PIPELINE, ReplaySelection(state))).matched == 0
    await store.close()


async def test_replay_of_one_state_leaves_the_others(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=HOUR)
    await store.open()
    await store.ingest([record("m1", ["a"], received_at=NOW), record("m2", ["a"], received_at=NOW)])
    one, two = await store.claim("a", 10, NOW, LEASE)
    await store.record(
        [
            DeliveryOutcome(one.id, one.lease, "failed", NOW, status=400),
            DeliveryOutcome(two.id, two.lease, "delivered", NOW, status=200),
        ]
    )
    report = await replay(store, PIPELINE, ReplaySelection("failed"), now=NOW)
    assert report.requeued == 1
    [delivered] = await store.list_deliveries(DeliveryQuery(states=("delivered",)))
    assert delivered["message_id"] == "m2"
    report = await replay(store, PIPELINE, ReplaySelection("delivered"), now=NOW)
    assert report.requeued == 1
    assert (await store.stats())["deliveries"]["pending"] == 2
    await store.close()


@pytest.mark.parametrize(
    ("selection", "message"),
    [
        (ReplaySelection(destination="nope"), "unknown destination 'nope'; configured: a, b"),
        (ReplaySelection(state="pending"), "state must be one of"),
        (ReplaySelection(since=NOW, until=NOW), "since must be before until"),
    ],
)
async def test_bad_selections_raise_replay_error(
    db_url: str, selection: ReplaySelection, message: str
) -> None:
    store = await seeded(db_url)
    with pytest.raises(ReplayError, match=message):
        await replay(store, PIPELINE, selection)
    assert (await store.stats())["deliveries"]["dead"] == 6
    await store.close()


async def test_replay_reports_progress_in_chunks(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "q.db"), dedupe_window=HOUR)
    await store.open()
    await store.ingest([record(f"m{i}", ["a"], received_at=NOW) for i in range(1200)])
    await finish(store, "a", "dead", error="x")
    progress: list[tuple[int, int]] = []
    report = await replay(
        store, PIPELINE, ReplaySelection(), on_progress=lambda *p: progress.append(p)
    )
    assert report.requeued == 1200
    assert progress == [(0, 1200), (500, 1200), (1000, 1200), (1200, 1200)]
    await store.close()


# -- the store's replay primitives ---------------------------------------------------------


async def test_count_find_and_requeue(db_url: str) -> None:
    store = await seeded(db_url)
    dead_a = DeliveryQuery(states=("dead",), destination="a")
    assert await store.count_deliveries(dead_a) == 3
    assert await store.count_deliveries(DeliveryQuery(states=("delivered",))) == 0
    rows = await store.find_deliveries(dead_a)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)  # oldest first
    assert set(rows[0]) == {"id", "destination", "state", "source", "body", "visitor_code"}
    assert rows[0]["source"] == "web" and b'"messageId":"m3"' in rows[0]["body"]
    page = await store.find_deliveries(dead_a, after_id=rows[0]["id"], limit=1)
    assert [r["id"] for r in page] == [rows[1]["id"]]

    ids = [r["id"] for r in rows]
    assert await store.requeue([], ("dead",), NOW) == 0
    assert await store.requeue(ids[:2], ("failed",), NOW) == 0  # not in that state
    assert await store.requeue(ids[:2], ("dead",), NOW + 5) == 2
    assert await store.requeue(ids[:2], ("dead",), NOW + 5) == 0  # no longer dead
    assert await store.count_deliveries(dead_a) == 1
    claimed = await store.claim("a", 10, NOW + 5, LEASE)
    assert sorted(c.id for c in claimed) == ids[:2]
    await store.close()


async def test_find_deliveries_carries_the_resolved_visitor_code(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=HOUR)
    await store.open()
    link = replace(record("m1", ["a"], received_at=NOW), identity_ids=("userId:u1",))
    await store.ingest([replace(link, link_code="vc-1")])
    await store.ingest(
        [
            replace(
                record("m2", ["a"], received_at=NOW), identity_ids=("userId:u1",), resolve_code=True
            )
        ]
    )
    await finish(store, "a", "dead")
    rows = await store.find_deliveries(DeliveryQuery(states=("dead",)))
    assert [r["visitor_code"] for r in rows] == [None, "vc-1"]
    await store.close()


# -- retention -----------------------------------------------------------------------------


async def test_prune_deletes_finished_work_and_events_no_one_needs(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=HOUR)
    await store.open()
    old = NOW - 10 * HOUR
    await store.ingest([record(f"m{i}", ["a"], received_at=old) for i in range(6)])
    await store.ingest([record("m-both", ["a", "b"], received_at=old)])
    await store.ingest([record("m-rejected", received_at=old, problems=("bad",))])
    c = await store.claim("a", 10, old, LEASE)  # m0..m5, m-both/a
    states = ["delivered", "failed", "dead", "filtered", "pending", "delivered"]
    await store.record(
        [
            DeliveryOutcome(d.id, d.lease, s, old, requests=(SENT,), next_attempt_at=NOW + HOUR)  # type: ignore[arg-type]
            for d, s in zip(c[:6], states, strict=True)
        ]
        + [DeliveryOutcome(c[6].id, c[6].lease, "delivered", old, requests=(SENT, SENT))]
    )
    # m-both/b stays pending; m4/a is retrying; one finished delivery is recent.
    await store.ingest([record("m-new", ["a"], received_at=NOW)])
    [new] = await store.claim("a", 10, NOW, LEASE)
    await store.record([DeliveryOutcome(new.id, new.lease, "delivered", NOW)])
    await store.ingest([record("m-flying", ["a"], received_at=old)])
    [flying] = await store.claim("a", 10, old, LEASE)
    assert flying.message_id == "m-flying"

    removed = await store.prune(NOW - HOUR, limit=1000)
    # 6 finished deliveries (m0-m3, m5, m-both/a) and their 7 attempts, 5 events (m0-m3,
    # m5; m-both still feeds b), 1 rejected event.
    assert removed == 6 + 7 + 5 + 1
    left = {(r["message_id"], r["destination"], r["state"]) for r in await store.list_deliveries()}
    assert left == {
        ("m4", "a", "retrying"),
        ("m-both", "b", "pending"),
        ("m-new", "a", "delivered"),
        ("m-flying", "a", "in_flight"),
    }
    assert await store.list_rejected() == []
    stats = await store.stats()
    assert stats["deliveries"]["delivered"] == 1 and stats["deliveries"]["failed"] == 0
    assert stats["events"]["received"] == 9  # the counters are history, not rows
    assert await store.prune(NOW - HOUR, limit=1000) == 0
    await store.close()


async def test_prune_works_in_batches_of_limit(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=HOUR)
    await store.open()
    old = NOW - 10 * HOUR
    await store.ingest([record(f"m{i}", ["a"], received_at=old) for i in range(5)])
    await finish(store, "a", "delivered", at=old, requests=(SENT,))
    first = await store.prune(NOW, limit=2)
    # Two deliveries and their two attempts rows; their two events (limit 2) go too.
    assert first == 2 + 2 + 2
    assert len(await store.list_deliveries()) == 3
    total = first
    while removed := await store.prune(NOW, limit=2):
        total += removed
    assert total == 5 + 5 + 5 and await store.list_deliveries() == []
    await store.close()


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://localhost/relay?pool_size=none", "must be numbers"),
        ("postgresql://localhost/relay?pool_size=0", "pool_size must be >= 1"),
        ("mysql://localhost/relay", "unknown URL"),
        ("sqlite:///", "no file path"),
        ("sqlite:///x.db?journal=off", "unknown database option"),
        ("sqlite:///x.db?synchronous=sometimes", "synchronous must be"),
    ],
)
def test_open_store_rejects_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_store(url, dedupe_window=HOUR)


def test_open_store_reads_sqlite_paths() -> None:
    store = open_store("sqlite:////var/lib/relay.db?synchronous=normal", dedupe_window=60)
    assert isinstance(store, SQLiteStore)
    assert (store.path, store.synchronous, store.dedupe_window) == (
        "/var/lib/relay.db",
        "NORMAL",
        60,
    )
    relative = open_store("sqlite:///./.kameleoon-relay/relay.db", dedupe_window=60)
    assert isinstance(relative, SQLiteStore) and relative.path == "./.kameleoon-relay/relay.db"


async def test_in_memory_store_works() -> None:
    store = open_store("sqlite:///:memory:", dedupe_window=HOUR)
    await store.open()
    assert (await store.ingest([record("m1")])).accepted == 1
    await store.close()
