"""A version-1 queue (built requests, credentials included) opens as the current schema:
queued work stays queued, and the stored requests are gone from the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from kameleoon_relay.store import DeliveryQuery, SQLiteStore, UserOrder
from kameleoon_relay.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.store.store_factories import track

NOW = 1_700_000_000.0
SECRET = "V1-SECRET-API-KEY-7f3a9c2e1b"


def build_v1(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    event = dict(track("m1"), userId="u1")
    event_id = conn.execute(
        "INSERT INTO events (message_id, source, received_at, body) VALUES (?, ?, ?, ?)",
        ("m1", "web", NOW, orjson.dumps(event)),
    ).lastrowid
    request = orjson.dumps(
        {
            "method": "POST",
            "url": "https://api.example/track",
            "headers": {"authorization": f"Basic {SECRET}"},
            # Large enough to span overflow pages that the migration's new tables and
            # indexes do not all reuse: only secure_delete clears the rest.
            "body": {"event": "Signed Up", "properties": {"note": f"{SECRET} " * 2000}},
        }
    )
    for subscription, action, state, blob, attempts in (
        ("Track Calls", "logEvent", "pending", request, 1),
        ("Identify", "identify", "delivered", None, 1),
    ):
        delivery_id = conn.execute(
            "INSERT INTO deliveries (event_id, destination, subscription, action, state,"
            " request, created_at, window_start, next_attempt_at, updated_at, attempts)"
            " VALUES (?, 'kameleoon', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, subscription, action, state, blob, NOW, NOW, NOW + 5, NOW, attempts),
        ).lastrowid
        conn.execute(
            "INSERT INTO attempts (delivery_id, attempted_at, outcome, status, error)"
            " VALUES (?, ?, ?, ?, ?)",
            (delivery_id, NOW, "retry" if state == "pending" else "delivered", 503, None),
        )
    conn.execute(
        "INSERT INTO delivery_counts (destination, action, state, n) VALUES"
        " ('kameleoon', 'logEvent', 'retrying', 1), ('kameleoon', 'identify', 'delivered', 1)"
    )
    conn.close()


def file_bytes(path: Path) -> bytes:
    return b"".join(
        Path(f"{path}{suffix}").read_bytes()
        for suffix in ("", "-wal")
        if Path(f"{path}{suffix}").exists()
    )


async def test_a_version_1_queue_is_migrated_and_its_requests_erased(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "relay.db"
    build_v1(path)
    assert SECRET.encode() in file_bytes(path)  # the check below can see it

    # Some SQLite builds (Debian's) default to secure_delete = ON; make the store's
    # connection start with it OFF so that only the migration can erase the requests.
    connect = sqlite3.connect

    def insecure_connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)  # type: ignore[arg-type]
        conn.execute("PRAGMA secure_delete = OFF")
        return conn

    monkeypatch.setattr(sqlite3, "connect", insecure_connect)

    store = SQLiteStore(str(path), dedupe_window=3600)
    await store.open()
    [row] = await store.list_deliveries()
    assert (row["message_id"], row["destination"], row["user_id"]) == ("m1", "kameleoon", "u1")
    assert row["state"] == "retrying"  # pending, attempted before
    assert await store.count_deliveries(DeliveryQuery(states=("pending", "retrying"))) == 1
    [claimed] = await store.claim("kameleoon", 10, NOW + 5, 30)
    assert claimed.message_id == "m1" and orjson.loads(claimed.body)["userId"] == "u1"
    detail = await store.get_delivery(claimed.id)
    assert detail is not None
    assert sorted(a["subscription"] for a in detail["history"]) == ["Identify", "Track Calls"]
    stats = await store.stats()
    assert stats["deliveries"]["in_flight"] == 1 and sum(stats["deliveries"].values()) == 1
    await store.close()
    monkeypatch.undo()

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"deliveries_v1", "attempts_v1"}
    conn.close()
    assert SECRET.encode() not in file_bytes(path)


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    store = SQLiteStore(str(path), dedupe_window=3600)
    with pytest.raises(RuntimeError, match="schema version"):
        await store.open()


async def test_subscriptions_delivered_before_the_migration_are_not_sent_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "relay.db"
    build_v1(path)  # Track Calls pending, Identify delivered
    store = SQLiteStore(str(path), dedupe_window=3600)
    await store.open()
    try:
        [claimed] = await store.claim("kameleoon", 10, NOW + 5, 30)
        assert claimed.done == frozenset({"Identify"})
    finally:
        await store.close()


def build_v2(path: Path) -> None:
    """A version-2 queue whose triggers counted: pending, retrying, in-flight and final work."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for target, script in enumerate(MIGRATIONS[:2], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {target};\nCOMMIT;")
    rows = [  # (message id, state, attempts, action, lease_until, updated_at)
        ("m-pending", "pending", 0, "", None, NOW),
        ("m-retrying", "pending", 2, "logEvent", None, NOW),
        ("m-flight", "in_flight", 1, "logEvent", NOW + 30, NOW),
        ("m-delivered", "delivered", 1, "logEvent", None, NOW - 100),
        ("m-dead", "dead", 5, "logEvent", None, NOW),
    ]
    for message_id, state, attempts, action, lease, updated in rows:
        event_id = conn.execute(
            "INSERT INTO events (message_id, source, received_at, body) VALUES (?, 'web', ?, ?)",
            (message_id, NOW - 200, orjson.dumps(track(message_id))),
        ).lastrowid
        conn.execute(
            "INSERT INTO deliveries (event_id, destination, action, state, created_at,"
            " window_start, next_attempt_at, updated_at, lease_until, attempts)"
            " VALUES (?, 'kameleoon', ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, action, state, NOW, NOW, NOW, updated, lease, attempts),
        )
    conn.close()


async def test_a_version_2_queue_is_migrated_with_its_counts(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    build_v2(path)
    store = SQLiteStore(str(path), dedupe_window=3600)
    await store.open()  # recovery puts the in-flight one back: retrying
    try:
        stats = await store.stats()
        assert {state: n for state, n in stats["deliveries"].items() if n} == {
            "pending": 1,
            "retrying": 2,
            "delivered": 1,
            "dead": 1,
        }
        # Counts follow the changes now that no trigger keeps them.
        claimed = await store.claim("kameleoon", 10, NOW + 1, 30)
        assert sorted(c.message_id for c in claimed) == ["m-flight", "m-pending", "m-retrying"]
        assert (await store.stats())["deliveries"]["in_flight"] == 3
        assert await store.prune(NOW - 50, 100) >= 1  # the old delivered one
        stats = await store.stats()
        assert stats["deliveries"]["delivered"] == 0 and stats["deliveries"]["dead"] == 1
        assert await store.count_deliveries(DeliveryQuery(states=("dead",))) == 1
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert not {n for n in names if n.startswith("deliveries_count")}
    assert "deliveries_state" not in names and "deliveries_final" in names
    conn.close()


def build_v3(path: Path) -> None:
    """A version-3 queue (no user keys): user A's two events queued, B's delivered."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for target, script in enumerate(MIGRATIONS[:3], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {target};\nCOMMIT;")
    for message_id, user, state in (("a1", "A", "pending"), ("a2", "A", "pending"),
                                    ("b1", "B", "delivered")):  # fmt: skip
        event = dict(track(message_id, visitor=f"anon-{user}"), userId=user)
        if user == "B":
            del event["userId"]  # anonymous: the key is its anonymousId
        event_id = conn.execute(
            "INSERT INTO events (message_id, source, user_id, received_at, body)"
            " VALUES (?, 'web', ?, ?, ?)",
            (message_id, event.get("userId"), NOW, orjson.dumps(event)),
        ).lastrowid
        conn.execute(
            "INSERT INTO deliveries (event_id, destination, state, created_at, window_start,"
            " next_attempt_at, updated_at) VALUES (?, 'kameleoon', ?, ?, ?, ?, ?)",
            (event_id, state, NOW, NOW, NOW, NOW),
        )
    conn.close()


async def test_a_version_3_queue_gets_user_keys_and_drains_in_order(tmp_path: Path) -> None:
    path = tmp_path / "relay.db"
    build_v3(path)
    store = SQLiteStore(str(path), dedupe_window=3600)
    await store.open()
    try:
        # a1 and a2 are user A's: only a1 goes; b1 (delivered) is not due.
        claimed = await store.claim("kameleoon", 10, NOW + 1, 30, order=UserOrder())
        assert [c.message_id for c in claimed] == ["a1"]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    keys = dict(
        conn.execute(
            "SELECT e.message_id, d.user_key FROM deliveries d JOIN events e ON e.id = d.event_id"
        ).fetchall()
    )
    assert keys == {"a1": "A", "a2": "A", "b1": "anon-B"}
    conn.close()
