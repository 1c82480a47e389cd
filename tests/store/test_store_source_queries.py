"""The read queries of issue 19's dashboard, on both stores: the delivery log's event
names (`event` for track calls, `name` for page and screen, none for identify; an escaped
NUL in a body costs that event its name, never the list), and the Sources page's volume
per source and minute, stream of recent events, search, and duplicates per source."""

from __future__ import annotations

import orjson

from kameleoon_relay.store import DeliveryOutcome, DeliveryQuery, EventRecord, open_store


def record(
    message_id: str, body: dict, at: float = 1000.0, source: str = "web", **extra
) -> EventRecord:
    body = {"messageId": message_id, **body}
    return EventRecord(message_id, source, orjson.dumps(body), at, destinations=("k",), **extra)


async def test_event_names_listed_and_searched(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=86400)
    await store.open()
    try:
        await store.ingest(
            [
                record("t1", {"type": "track", "event": "Order Completed"}),
                record("p1", {"type": "page", "name": "Home"}),
                record("i1", {"type": "identify", "userId": "u1"}),
                record("t2", {"type": "track", "event": "Order Completed"}),
                record("n1", {"type": "track", "event": "Nul\u0000Name"}),
                record(
                    "n2", {"type": "track", "event": "After Nul", "properties": {"x": "\u0000"}}
                ),
            ]
        )
        rows = await store.list_deliveries(DeliveryQuery(), 10)
        names = {r["message_id"]: r["event_name"] for r in rows}
        assert names["t1"] == "Order Completed" and names["p1"] == "Home"
        assert names["i1"] is None
        # SQLite's text ends at the NUL; PostgreSQL's json cannot unescape it: no name.
        assert names["n1"] in ("Nul", None)
        assert names["n2"] in ("After Nul", None)
        found = await store.list_deliveries(DeliveryQuery(event="Order Completed"), 10)
        assert sorted(r["message_id"] for r in found) == ["t1", "t2"]
        assert await store.count_deliveries(DeliveryQuery(event="Home")) == 1
        assert await store.count_deliveries(DeliveryQuery(event="Nothing")) == 0
    finally:
        await store.close()


async def test_sources_volume_stream_search_and_duplicates(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=86400)
    await store.open()
    try:
        track = {"type": "track", "event": "Clicked"}
        first = await store.ingest(
            [
                record("w1", track, at=10_005, user_id="u1"),
                record("w2", track, at=10_070),
                record("m1", {"type": "page", "name": "Home"}, at=10_010, source="mobile"),
                record("bad", {"type": "track"}, at=10_075, problems=("event: required",)),
            ]
        )
        assert first.duplicate_sources == {}
        again = await store.ingest(
            [
                record("w1", track, at=10_080),
                record("m1", track, at=10_081, source="mobile"),
                record("m1", track, at=10_082, source="mobile"),
                record("w3", track, at=10_083),
            ]
        )
        assert again.duplicate_sources == {"web": 1, "mobile": 2}
        volume = await store.source_volume(10_000, 60)
        assert volume == [
            {"source": "mobile", "at": 10_000, "accepted": 1, "refused": 0},
            {"source": "web", "at": 10_000, "accepted": 1, "refused": 0},
            {"source": "web", "at": 10_060, "accepted": 2, "refused": 1},
        ]
        recent = await store.recent_events(limit=10)
        assert [e["message_id"] for e in recent["accepted"]] == ["w3", "m1", "w2", "w1"]
        assert recent["accepted"][-1]["event"] == {"messageId": "w1", **track}
        (refused,) = recent["refused"]
        assert refused["problems"] == ["event: required"] and refused["source"] == "web"
        newer = await store.recent_events(after_id=recent["accepted"][1]["id"], limit=10)
        assert [e["message_id"] for e in newer["accepted"]] == ["w3"]
        by_user = await store.find_events("u1", since=0)
        assert [e["message_id"] for e in by_user["accepted"]] == ["w1"]
        by_name = await store.find_events("Home", since=0)
        assert [e["message_id"] for e in by_name["accepted"]] == ["m1"]
        assert (await store.find_events("Clicked", since=0, source="mobile"))["accepted"] == []
        assert [e["message_id"] for e in (await store.find_events("bad", 0))["refused"]] == ["bad"]
        assert (await store.find_events("w2", since=10_071))["accepted"] == []
    finally:
        await store.close()


async def test_top_error_reasons_of_the_last_hour(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=86400)
    await store.open()
    try:
        now = 1_000_000.0
        track = {"type": "track", "event": "E"}
        await store.ingest([record(f"r{n}", track, at=now - 100) for n in range(6)])
        claimed = await store.claim("k", 6, now - 50, 600)
        verdicts = [
            ("failed", "HTTP 400: bad"),
            ("failed", "HTTP 400: bad"),
            ("dead", "HTTP 503: down"),
            ("pending", "HTTP 503: down"),  # retrying
            ("pending", "HTTP 503: down"),
            ("delivered", None),
        ]
        outcomes = [
            DeliveryOutcome(c.id, c.lease, state, now - 40, "logEvent", error=error,
                            next_attempt_at=now + 60 if state == "pending" else None)
            for c, (state, error) in zip(claimed, verdicts, strict=True)
        ]  # fmt: skip
        assert await store.record(outcomes) == 6
        reasons = await store.error_reasons(now - 3600)
        assert reasons == [
            {"destination": "k", "reason": "HTTP 503: down", "n": 3},
            {"destination": "k", "reason": "HTTP 400: bad", "n": 2},
        ]
        assert await store.error_reasons(now - 3600, limit=1) == reasons[:1]
        assert await store.error_reasons(now) == []  # none attempted since
    finally:
        await store.close()
