"""The store's monitoring queries: activity per window, throughput, latencies, queue depth."""

from __future__ import annotations

import orjson

from kameleoon_relay.dashboard.overview import overview, percentile
from kameleoon_relay.store import DeliveryOutcome, EventRecord, open_store


def record(message_id: str, at: float) -> EventRecord:
    body = orjson.dumps({"type": "track", "messageId": message_id})
    return EventRecord(message_id, "web", body, at, destinations=("k",))


async def test_monitoring_queries(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=86400)
    await store.open()
    try:
        now = 1_000_000.0
        await store.ingest(
            [record("old", now - 7200), record("a", now - 30), record("b", now - 20)]
        )
        claimed = await store.claim("k", 1, now - 10, 60)
        lease = claimed[0].lease
        await store.record(
            [DeliveryOutcome(claimed[0].id, lease, "delivered", now - 5, "logEvent", latency=0.2)]
        )
        hour = await store.activity(now - 3600)
        # The oldest due ("old", outside the hour) was claimed and delivered.
        assert [(r["action"], r["state"], r["n"]) for r in hour] == [("", "pending", 2)]
        day = await store.activity(now - 86400)
        assert sum(r["n"] for r in day) == 3
        depth = await store.queue_depth(now)
        assert depth["k"]["depth"] == 2
        assert depth["k"]["oldest_age"] >= 20
        assert (await store.latencies(now - 3600)) == {"k": [0.2]}
        buckets = await store.throughput(now - 3600, 60)
        assert sum(b["received"] for b in buckets) == 2
        assert sum(b["delivered"] for b in buckets) == 1
        data = await overview(store, ["k"], now)
        assert data["windows"]["day"]["k"]["total"]["received"] == 3
        assert data["windows"]["day"]["k"]["total"]["delivered"] == 1
        assert data["latency"]["k"]["p50"] == 0.2
        assert len(data["throughput"]) >= 60
    finally:
        await store.close()


def test_percentile_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([], 0.5) is None
