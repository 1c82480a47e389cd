"""The delivery log's event names (issue 19: the dashboard's event column and search),
on both stores: `event` for track calls, `name` for page and screen, none for identify;
an escaped NUL in a body costs that event its name, never the list."""

from __future__ import annotations

import orjson

from kameleoon_relay.store import DeliveryQuery, EventRecord, open_store


def record(message_id: str, body: dict, at: float = 1000.0) -> EventRecord:
    body = {"messageId": message_id, **body}
    return EventRecord(message_id, "web", orjson.dumps(body), at, destinations=("k",))


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
