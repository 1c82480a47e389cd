"""A version-1 PostgreSQL queue (no user keys) opens as the current schema: each delivery
gets its user key from its event (userId, else anonymousId) and drains in per-user order."""

from __future__ import annotations

import orjson
import psycopg

from kameleoon_relay.store import UserOrder, open_store
from kameleoon_relay.store.postgres_schema import MIGRATIONS, SCHEMA_VERSION
from tests.store.store_factories import track

NOW = 1_700_000_000.0


def build_v1(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(MIGRATIONS[0])
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        for message_id, user in (("a1", "A"), ("a2", "A"), ("b1", None), ("x1", None)):
            event = track(message_id, visitor="anon-b")
            if user is not None:
                event["userId"] = user
            body = orjson.dumps(event) if message_id != "x1" else b"\xff not json"
            event_id = conn.execute(
                "INSERT INTO events (message_id, source, user_id, received_at, body)"
                " VALUES (%s, 'web', %s, %s, %s) RETURNING id",
                [message_id, user, NOW, body],
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO deliveries (event_id, destination, state, created_at, window_start,"
                " next_attempt_at, updated_at) VALUES (%s, 'kameleoon', 'pending', %s, %s, %s, %s)",
                [event_id, NOW, NOW, NOW, NOW],
            )


async def test_a_version_1_queue_gets_user_keys(pg_url: str) -> None:
    build_v1(pg_url)
    store = open_store(pg_url, dedupe_window=3600)
    await store.open()
    try:
        claimed = await store.claim("kameleoon", 10, NOW + 1, 30, order=UserOrder())
        # a2 waits behind a1; b1 (anonymous) has its own key; x1's body cannot be read:
        # no key, never held.
        assert [c.message_id for c in claimed] == ["a1", "b1", "x1"]
    finally:
        await store.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == (
            SCHEMA_VERSION
        )
        keys = dict(
            conn.execute(
                "SELECT e.message_id, d.user_key FROM deliveries d"
                " JOIN events e ON e.id = d.event_id"
            ).fetchall()
        )
    assert keys == {"a1": "A", "a2": "A", "b1": "anon-b", "x1": None}
