"""Ingest and record work on whole batches: a duplicate or a stale outcome inside a batch is
told apart from the rest, and the per-state counts stay exact through every change."""

from __future__ import annotations

from pathlib import Path

from kameleoon_relay.store import (
    REPORTED_STATES,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryQuery,
    SentRequest,
    SQLiteStore,
    Store,
    open_store,
)
from tests.store.store_factories import record

NOW = 1_700_000_000.0
LEASE = 30.0


async def opened(url: str) -> Store:
    store = open_store(url, dedupe_window=3600.0)
    await store.open()
    return store


def outcome(claimed: ClaimedDelivery, state: str, **fields: object) -> DeliveryOutcome:
    return DeliveryOutcome(claimed.id, claimed.lease, state, NOW, **fields)  # type: ignore[arg-type]


async def counted(store: Store) -> dict[str, int]:
    """Each reported state's number of deliveries, counted row by row."""
    return {
        state: await store.count_deliveries(DeliveryQuery(states=(state,)))
        for state in REPORTED_STATES
    }


async def assert_counts_exact(store: Store) -> None:
    stats = await store.stats()
    assert stats["deliveries"] == await counted(store)


async def test_a_duplicate_inside_the_group_and_across_groups(db_url: str) -> None:
    store = await opened(db_url)
    try:
        first = await store.ingest(
            [record(m, received_at=NOW) for m in ("m1", "m2", "m1", "m3", "m2")]
        )
        assert (first.accepted, first.duplicates) == (3, 2)
        second = await store.ingest(
            [record(m, received_at=NOW + 1) for m in ("m2", "m4", "m4", "m1")]
        )
        assert (second.accepted, second.duplicates) == (1, 3)
        rows = await store.list_deliveries(limit=10)
        assert sorted(r["message_id"] for r in rows) == ["m1", "m2", "m3", "m4"]
        stats = await store.stats()
        assert stats["events"]["received"] == 4 and stats["events"]["duplicates"] == 5
        assert stats["deliveries"]["pending"] == 4
        await assert_counts_exact(store)
    finally:
        await store.close()


async def test_one_stale_lease_among_fresh_ones_is_the_only_one_refused(db_url: str) -> None:
    store = await opened(db_url)
    try:
        await store.ingest([record(f"m{i}", received_at=NOW) for i in range(4)])
        first = await store.claim("kameleoon", 10, NOW, LEASE)
        # The leases run out and the work is claimed again: the first claims are stale.
        again = await store.claim("kameleoon", 10, NOW + LEASE + 1, LEASE)
        assert [c.id for c in again] == [c.id for c in first]
        stale, fresh = first[0], again[1:]
        sent = SentRequest("Track Calls", "logEvent", "delivered", url="http://x/t", body=b"{}")
        outcomes = [
            outcome(fresh[0], "delivered", requests=(sent,)),
            outcome(stale, "delivered", requests=(sent,)),
            outcome(fresh[1], "pending", next_attempt_at=NOW + 100),
            outcome(fresh[2], "filtered", filtered=("drop-bots", "a bot")),
            outcome(
                fresh[0], "dead", requests=(sent,)
            ),  # a second outcome for one delivery: stale too
        ]
        assert await store.record(outcomes) == 3
        states = {r["id"]: r["state"] for r in await store.list_deliveries(limit=10)}
        assert states == {
            stale.id: "in_flight",  # still leased by the second claim, untouched
            fresh[0].id: "delivered",
            fresh[1].id: "retrying",
            fresh[2].id: "filtered",
        }
        stale_detail = await store.get_delivery(stale.id)
        assert stale_detail is not None and stale_detail["history"] == []
        delivered = await store.get_delivery(fresh[0].id)
        assert delivered is not None and len(delivered["history"]) == 1
        stats = await store.stats()
        assert stats["destinations"]["kameleoon"]["filtered"]["drop-bots"]["events"] == 1
        await assert_counts_exact(store)
        # The stale one's own lease still records it.
        assert await store.record([outcome(again[0], "delivered")]) == 1
        await assert_counts_exact(store)
    finally:
        await store.close()


async def test_counts_stay_exact_through_claims_records_requeue_and_prune(db_url: str) -> None:
    store = await opened(db_url)
    try:
        await store.ingest(
            [record(f"m{i}", ["a", "b"], received_at=NOW) for i in range(6)]
            + [record("r", received_at=NOW, problems=("bad",))]
        )
        await assert_counts_exact(store)
        claimed = await store.claim("a", 6, NOW, LEASE)
        await assert_counts_exact(store)
        states = ["delivered", "failed", "dead", "filtered", "pending", "delivered"]
        await store.record(
            [
                outcome(c, state, actions="logEvent", next_attempt_at=NOW)
                for c, state in zip(claimed, states, strict=True)
            ]
        )
        await assert_counts_exact(store)
        await store.claim("b", 3, NOW, LEASE)  # left to expire
        retried = await store.claim("a", 6, NOW + 1, LEASE)  # the retrying one
        assert len(retried) == 1
        await store.claim("b", 6, NOW + LEASE + 1, LEASE)  # expired leases come back first
        await assert_counts_exact(store)
        ids = [c.id for c in claimed]
        assert await store.requeue(ids, ("dead", "failed"), NOW + 2) == 2
        await assert_counts_exact(store)
        assert await store.prune(NOW + 3, 100) > 0  # the delivered and filtered ones
        await assert_counts_exact(store)
        stats = await store.stats()
        assert stats["deliveries"]["delivered"] == 0 and stats["deliveries"]["filtered"] == 0
        assert stats["deliveries"]["pending"] == 2  # requeued
    finally:
        await store.close()


async def test_recovery_at_open_keeps_counts_exact(tmp_path: Path) -> None:
    path = str(tmp_path / "relay.db")
    store = SQLiteStore(path, dedupe_window=3600.0)
    await store.open()
    await store.ingest([record(f"m{i}", received_at=NOW) for i in range(3)])
    await store.claim("kameleoon", 2, NOW, LEASE)
    await store.close()
    store = SQLiteStore(path, dedupe_window=3600.0)
    await store.open()  # in-flight work goes back to pending
    try:
        assert (await store.stats())["deliveries"]["in_flight"] == 0
        await assert_counts_exact(store)
    finally:
        await store.close()
