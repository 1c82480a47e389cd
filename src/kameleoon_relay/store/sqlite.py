"""The embedded queue: one SQLite file in WAL mode, written by one thread with group commit."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson

from kameleoon_relay.secrets import mask_request, scrub, secrets_in
from kameleoon_relay.store._thread import SQLiteThread
from kameleoon_relay.store.base import ProgressCallback, Store
from kameleoon_relay.store.models import (
    REPLAYABLE_STATES,
    STATES,
    AttemptOutcome,
    DeliveryRecord,
    IngestItem,
    IngestResult,
)
from kameleoon_relay.store.schema import SCHEMA, SCHEMA_VERSION

REPORTED_STATES = ("pending", "retrying", "in_flight", "delivered", "failed", "dead")
SYNCHRONOUS_MODES = ("off", "normal", "full", "extra")
REPLAY_CHUNK = 500

_INSERT_DELIVERY = """
INSERT INTO deliveries (event_id, destination, subscription, action, state, request,
    created_at, window_start, next_attempt_at, updated_at, last_error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_SUMMARY_COLUMNS = """
d.id, d.event_id, e.message_id, e.source, d.destination, d.subscription, d.action, d.state,
d.attempts, d.replays, d.created_at, d.updated_at, d.next_attempt_at, d.last_status,
d.last_error, d.last_attempt_at, d.last_latency
"""


class SQLiteStore(Store):
    def __init__(
        self,
        path: str,
        synchronous: str = "full",
        dedupe_window: float = 86400.0,
    ) -> None:
        if synchronous.lower() not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = path
        self.synchronous = synchronous.upper()
        self.dedupe_window = dedupe_window
        self._thread: SQLiteThread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self, recover: bool = True) -> None:
        if self._thread is not None:
            return
        self._thread = SQLiteThread(self._connect, name=f"sqlite:{self.path}")
        await self._thread.start()
        if recover:
            await self._run(_recover_in_flight)

    async def close(self) -> None:
        if self._thread is not None:
            await self._thread.stop()
            self._thread = None

    @property
    def commits(self) -> int:
        """Transactions committed so far (group commit makes this far fewer than writes)."""
        return self._thread.commits if self._thread else 0

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")  # replay CLI and server share the file
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL fsyncs the WAL at every commit, so an acknowledged event also survives power
        # loss; group commit keeps that affordable. NORMAL survives a process crash only.
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise RuntimeError(
                f"{self.path} has schema version {version}; this relay knows {SCHEMA_VERSION}"
            )
        conn.executescript(SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return conn

    async def _run(self, job: Any) -> Any:
        if self._thread is None:
            raise RuntimeError("store is not open: await store.open() first")
        return await self._thread.run(job)

    # -- ingest and delivery ---------------------------------------------------------------

    async def ingest(self, items: list[IngestItem]) -> IngestResult:
        if not items:
            return IngestResult(0, 0)
        window = self.dedupe_window
        return await self._run(lambda conn: _ingest(conn, items, window))

    async def claim(self, destination: str, limit: int, now: float) -> list[DeliveryRecord]:
        if limit <= 0:
            return []
        return await self._run(lambda conn: _claim(conn, destination, limit, now))

    async def record_attempt(self, delivery_id: int, outcome: AttemptOutcome) -> None:
        await self._run(lambda conn: _record(conn, delivery_id, outcome))

    # -- inspection ------------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        return await self._run(_stats)

    async def list_rejected(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda conn: _fetch_dicts(
                conn,
                "SELECT id, message_id, source, received_at, body AS event, problems"
                " FROM rejected_events ORDER BY id DESC LIMIT ?",
                [limit],
            )
        )
        for row in rows:
            row["event"] = orjson.loads(row["event"])
            row["problems"] = orjson.loads(row["problems"])
        return rows

    async def load_identities(self) -> tuple[dict[str, str], int]:
        return await self._run(_identities)

    async def pending_destinations(self) -> list[str]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT DISTINCT destination FROM delivery_counts"
                " WHERE state IN ('pending', 'retrying') AND n > 0 ORDER BY destination"
            ).fetchall()
        )
        return [row[0] for row in rows]

    async def list_deliveries(
        self,
        state: str | None = None,
        limit: int = 50,
        destination: str | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r}; expected one of {', '.join(STATES)}")
        where, params = _filters(state=state, destination=destination)
        sql = (
            f"SELECT {_SUMMARY_COLUMNS} FROM deliveries d JOIN events e ON e.id = d.event_id"
            f"{where} ORDER BY d.id DESC LIMIT ? OFFSET ?"
        )
        rows = await self._run(lambda conn: _fetch_dicts(conn, sql, [*params, limit, offset]))
        return rows

    async def get_delivery(self, delivery_id: int) -> dict[str, Any] | None:
        sql = (
            f"SELECT {_SUMMARY_COLUMNS}, d.request, d.response_sample, e.body AS event,"
            " e.received_at FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?"
        )
        rows = await self._run(lambda conn: _fetch_dicts(conn, sql, [delivery_id]))
        if not rows:
            return None
        row = rows[0]
        row["event"] = orjson.loads(row["event"])
        row["request"] = _shown_request(row["request"]) if row["request"] else None
        row["history"] = await self._run(
            lambda conn: _fetch_dicts(
                conn,
                "SELECT attempted_at, outcome, status, error, latency FROM attempts"
                " WHERE delivery_id = ? ORDER BY attempted_at",
                [delivery_id],
            )
        )
        return row

    async def replay(
        self,
        state: str = "dead",
        since: float | None = None,
        destination: str | None = None,
        dry_run: bool = False,
        now: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> int:
        if state not in REPLAYABLE_STATES:
            raise ValueError(f"can only replay {' or '.join(REPLAYABLE_STATES)} deliveries")
        where, params = _filters(state=state, destination=destination, since=since)
        # Deliveries without a request failed validation: sending them again cannot help.
        where += " AND d.request IS NOT NULL"
        ids: list[int] = await self._run(
            lambda conn: [
                row[0]
                for row in conn.execute(
                    f"SELECT d.id FROM deliveries d{where} ORDER BY d.id", params
                )
            ]
        )
        total = len(ids)
        if on_progress:
            on_progress(0, total)
        if dry_run:
            if on_progress:
                on_progress(total, total)
            return total
        at = time.time() if now is None else now
        done = 0
        # Chunks, each its own commit: progress is visible and the writer is never blocked long.
        for start in range(0, total, REPLAY_CHUNK):
            chunk = ids[start : start + REPLAY_CHUNK]
            done += await self._run(lambda conn, chunk=chunk: _requeue(conn, chunk, state, at))
            if on_progress:
                on_progress(min(start + len(chunk), total), total)
        return done


# -- jobs: run on the store's thread, inside its transaction ------------------------------


def _recover_in_flight(conn: sqlite3.Connection) -> int:
    return conn.execute(
        "UPDATE deliveries SET state = 'pending' WHERE state = 'in_flight'"
    ).rowcount


def _ingest(conn: sqlite3.Connection, items: list[IngestItem], window: float) -> IngestResult:
    accepted = duplicates = rejected = 0
    seen: set[str] = set()
    for item in items:
        if item.problems is not None:
            conn.execute(
                "INSERT INTO rejected_events (message_id, source, received_at, body, problems)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    item.message_id,
                    item.source,
                    item.received_at,
                    orjson.dumps(item.event),
                    orjson.dumps(item.problems),
                ),
            )
            rejected += 1
            continue
        if item.message_id in seen or _seen_recently(conn, item, window):
            duplicates += 1
            continue
        seen.add(item.message_id)
        event_id = conn.execute(
            "INSERT INTO events (message_id, source, received_at, body) VALUES (?, ?, ?, ?)",
            (item.message_id, item.source, item.received_at, orjson.dumps(item.event)),
        ).lastrowid
        sent = [p for p in item.planned if p.filtered is None]
        conn.executemany(_INSERT_DELIVERY, [_delivery_row(event_id, item, p) for p in sent])
        _count_filtered(conn, [p for p in item.planned if p.filtered is not None])
        if item.links:
            conn.executemany(
                "INSERT INTO identity_links (id, code, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET code = excluded.code,"
                " updated_at = excluded.updated_at",
                [(key, code, item.received_at) for key, code in item.links],
            )
            _bump(conn, "identity_conflicts", item.link_conflicts)
        accepted += 1
    _bump(conn, "events_received", accepted)
    _bump(conn, "events_duplicate", duplicates)
    _bump(conn, "events_rejected", rejected)
    return IngestResult(accepted, duplicates)


_REASON_LIMIT = 300


def _count_filtered(conn: sqlite3.Connection, filtered: list[Any]) -> None:
    for planned in filtered:
        conn.execute(
            "INSERT INTO filter_counts (destination, filter, reason, n) VALUES (?, ?, ?, 1)"
            " ON CONFLICT (destination, filter, reason) DO UPDATE SET n = n + 1",
            (planned.destination, planned.filtered.filter, planned.filtered.reason[:_REASON_LIMIT]),
        )


def _identities(conn: sqlite3.Connection) -> tuple[dict[str, str], int]:
    links = dict(conn.execute("SELECT id, code FROM identity_links").fetchall())
    row = conn.execute("SELECT value FROM counters WHERE name = 'identity_conflicts'").fetchone()
    return links, row[0] if row else 0


def _seen_recently(conn: sqlite3.Connection, item: IngestItem, window: float) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM events WHERE message_id = ? AND received_at >= ? LIMIT 1",
            (item.message_id, item.received_at - window),
        ).fetchone()
        is not None
    )


def _delivery_row(event_id: int, item: IngestItem, planned: Any) -> tuple:
    at = item.received_at
    if planned.error is not None:
        # Payload validation failed: retrying the same payload cannot succeed.
        state, request, error = "failed", None, f"{planned.error.type}: {planned.error.message}"
    elif planned.request is None:
        state, request, error = "failed", None, "no request was planned"
    else:
        state, request, error = "pending", orjson.dumps(_request_dict(planned.request)), None
    return (
        event_id,
        planned.destination,
        planned.subscription,
        planned.action,
        state,
        request,
        at,
        at,
        at,
        at,
        error,
    )


def _request_dict(request: Any) -> dict[str, Any]:
    """What is stored to send later: method, url, headers and the exact body text (the
    action's bytes, so a re-serialisation can never change what Kameleoon receives)."""
    stored = request.to_dict() if hasattr(request, "to_dict") else dataclasses.asdict(request)
    body = getattr(request, "body", b"")
    if body:
        stored.pop("json", None)
        stored["body"] = body.decode()
    return stored


def _shown_request(raw: bytes) -> dict[str, Any]:
    """A stored request for display: secrets masked, the body as JSON when it is JSON."""
    request = orjson.loads(raw)
    if "body" in request:
        try:
            request["json"] = orjson.loads(request["body"])
            del request["body"]
        except orjson.JSONDecodeError:
            pass  # shown as the text it is
    return mask_request(request)


def _bump(conn: sqlite3.Connection, name: str, by: int) -> None:
    if by:
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )


def _claim(
    conn: sqlite3.Connection, destination: str, limit: int, now: float
) -> list[DeliveryRecord]:
    rows = conn.execute(
        """
        UPDATE deliveries SET state = 'in_flight', updated_at = :now
        WHERE id IN (
            SELECT id FROM deliveries
            WHERE state = 'pending' AND destination = :destination AND next_attempt_at <= :now
            ORDER BY next_attempt_at LIMIT :limit
        )
        RETURNING id, event_id, destination, subscription, action, request, attempts,
                  window_start
        """,
        {"now": now, "destination": destination, "limit": limit},
    ).fetchall()
    records = [
        DeliveryRecord(
            id=row[0],
            event_id=row[1],
            destination=row[2],
            subscription=row[3],
            action=row[4],
            request=orjson.loads(row[5]),
            attempts=row[6],
            window_start=row[7],
        )
        for row in rows
    ]
    records.sort(key=lambda record: record.id)  # RETURNING order is unspecified
    return records


# What an attempt did, named by the state it led to ("pending" means: retry later).
_ATTEMPT_OUTCOME = {
    "delivered": "delivered",
    "pending": "retry",
    "failed": "failed",
    "dead": "dead",
}


def _record(conn: sqlite3.Connection, delivery_id: int, outcome: AttemptOutcome) -> None:
    error, sample = outcome.error, outcome.response_sample
    if error or sample:
        # The text came from the destination (it may echo our key): nothing stored leaks it.
        row = conn.execute("SELECT request FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        secrets = secrets_in(orjson.loads(row[0]).get("headers") or {}) if row and row[0] else []
        error = scrub(error, secrets) if error else error
        sample = scrub(sample, secrets) if sample else sample
    updated = conn.execute(
        """
        UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = ?,
            last_error = ?, response_sample = ?, last_attempt_at = ?, last_latency = ?,
            next_attempt_at = COALESCE(?, next_attempt_at), updated_at = ?
        WHERE id = ? AND state = 'in_flight'
        """,
        (
            outcome.state,
            outcome.status,
            error,
            sample,
            outcome.attempted_at,
            outcome.latency,
            outcome.next_attempt_at,
            outcome.attempted_at,
            delivery_id,
        ),
    ).rowcount
    if updated:
        conn.execute(
            "INSERT INTO attempts (delivery_id, attempted_at, outcome, status, error, latency)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                delivery_id,
                outcome.attempted_at,
                _ATTEMPT_OUTCOME[outcome.state],
                outcome.status,
                error,
                outcome.latency,
            ),
        )


def _requeue(conn: sqlite3.Connection, ids: list[int], state: str, now: float) -> int:
    marks = ",".join("?" * len(ids))
    return conn.execute(
        f"""
        UPDATE deliveries SET state = 'pending', attempts = 0, replays = replays + 1,
            window_start = ?, next_attempt_at = ?, updated_at = ?
        WHERE id IN ({marks}) AND state = ?
        """,
        (now, now, now, *ids, state),
    ).rowcount


def _stats(conn: sqlite3.Connection) -> dict[str, Any]:
    def zero() -> dict[str, int]:
        return dict.fromkeys(REPORTED_STATES, 0)

    counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
    totals = zero()
    destinations: dict[str, Any] = {}
    rows = conn.execute(
        "SELECT destination, action, state, n FROM delivery_counts WHERE n != 0"
        " ORDER BY destination, action"
    )
    for destination, action, state, n in rows:
        entry = destinations.setdefault(destination, {"total": zero(), "actions": {}})
        entry["actions"].setdefault(action, zero())[state] = n
        entry["total"][state] += n
        totals[state] += n
    filtered_total = 0
    for destination, name, reason, n in conn.execute(
        "SELECT destination, filter, reason, n FROM filter_counts ORDER BY destination, filter"
    ):
        entry = destinations.setdefault(destination, {"total": zero(), "actions": {}})
        per_filter = entry.setdefault("filtered", {}).setdefault(name, {"events": 0, "reasons": {}})
        per_filter["events"] += n
        per_filter["reasons"][reason] = n
        filtered_total += n
    links = conn.execute("SELECT COUNT(*) FROM identity_links").fetchone()[0]
    return {
        "events": {
            "received": counters.get("events_received", 0),
            "duplicates": counters.get("events_duplicate", 0),
            "rejected": counters.get("events_rejected", 0),
            "filtered": filtered_total,
        },
        "deliveries": totals,
        "destinations": destinations,
        "identity": {"links": links, "conflicts": counters.get("identity_conflicts", 0)},
    }


def _filters(
    state: str | None = None, destination: str | None = None, since: float | None = None
) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if state is not None:
        clauses.append("d.state = ?")
        params.append(state)
    if destination is not None:
        clauses.append("d.destination = ?")
        params.append(destination)
    if since is not None:
        clauses.append("d.created_at >= ?")
        params.append(since)
    return (" WHERE " + " AND ".join(clauses) if clauses else " WHERE 1 = 1"), params


def _fetch_dicts(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
