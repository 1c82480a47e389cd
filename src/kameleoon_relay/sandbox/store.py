"""The sandbox's state in SQLite: goals, visitors, linked ids, views, traits, events, counters.

One connection, used from the event loop's thread only. Writes join an open
transaction that `commit()` closes; the app commits on a short timer (and on
shutdown), so a burst of events costs one WAL write instead of one per event.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS goals (
    id INTEGER PRIMARY KEY, sitecode TEXT NOT NULL, name TEXT NOT NULL,
    custom INTEGER NOT NULL, conversions INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
    UNIQUE (sitecode, name));
CREATE TABLE IF NOT EXISTS visitors (
    sitecode TEXT NOT NULL, code TEXT NOT NULL, first_seen REAL NOT NULL, last_seen REAL NOT NULL,
    PRIMARY KEY (sitecode, code)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS visitors_last_seen ON visitors (last_seen);
CREATE TABLE IF NOT EXISTS conversions (
    sitecode TEXT NOT NULL, visitor TEXT NOT NULL, goal_id INTEGER NOT NULL,
    count INTEGER NOT NULL, last_at REAL NOT NULL,
    PRIMARY KEY (sitecode, visitor, goal_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (
    sitecode TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, visitor TEXT NOT NULL,
    PRIMARY KEY (sitecode, kind, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS views (
    sitecode TEXT NOT NULL, visitor TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    count INTEGER NOT NULL, last_at REAL NOT NULL,
    PRIMARY KEY (sitecode, visitor, kind, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS traits (
    sitecode TEXT NOT NULL, visitor TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (sitecode, visitor, scope, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audiences (
    sitecode TEXT NOT NULL, visitor TEXT NOT NULL, key TEXT NOT NULL, member INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (sitecode, visitor, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    sitecode TEXT NOT NULL, message_id TEXT NOT NULL, seen_at REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (sitecode, message_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, received_at REAL NOT NULL, sitecode TEXT NOT NULL,
    message_id TEXT, type TEXT, name TEXT, visitor TEXT, outcome TEXT NOT NULL, goal TEXT,
    body TEXT NOT NULL, reason TEXT, sender TEXT);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (
    sitecode TEXT NOT NULL, nonce TEXT NOT NULL, seen_at REAL NOT NULL,
    PRIMARY KEY (sitecode, nonce)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS goal_revenue (
    sitecode TEXT NOT NULL, visitor TEXT NOT NULL, goal_id INTEGER NOT NULL,
    kameleoon_id INTEGER NOT NULL, count INTEGER NOT NULL, revenue REAL NOT NULL,
    last_at REAL NOT NULL,
    PRIMARY KEY (sitecode, visitor, kameleoon_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS custom_data (
    sitecode TEXT NOT NULL, visitor TEXT NOT NULL, idx INTEGER NOT NULL, vals TEXT NOT NULL,
    last_at REAL NOT NULL,
    PRIMARY KEY (sitecode, visitor, idx)) WITHOUT ROWID;
"""

COUNTERS = (
    "received",
    "accepted",
    "rejected",
    "duplicates",
    "fault_error",
    "fault_rate_limit",
    "fault_timeout",
    "fault_reset",
    "auth_checks",
    "token_requests",
    "tokens_issued",
    "tokens_refused",
)
KEEP_EVENTS = 10_000  # the event log is for inspection; older rows are pruned on commit


class Store:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(messages)")}
        if "seen_at" not in columns:  # a file from before retention
            self.db.execute("ALTER TABLE messages ADD COLUMN seen_at REAL NOT NULL DEFAULT 0")
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(events)")}
        for column in ("reason", "sender"):  # a file from before rejection reasons
            if column not in columns:
                self.db.execute(f"ALTER TABLE events ADD COLUMN {column} TEXT")
        self.counters = dict.fromkeys(COUNTERS, 0)
        for name, value in self.db.execute("SELECT name, value FROM counters"):
            if name in self.counters:
                self.counters[name] = value
        self.dirty = False

    # -- writing ---------------------------------------------------------

    def count(self, name: str, by: int = 1) -> None:
        self.counters[name] += by
        self.dirty = True

    def commit(self) -> None:
        if not self.dirty:
            return
        self.db.executemany(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            self.counters.items(),
        )
        self.db.execute(
            "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?", (KEEP_EVENTS,)
        )
        self.db.commit()
        self.dirty = False

    def close(self) -> None:
        self.commit()
        self.db.close()

    def prune(self, before: float) -> int:
        """Retention: forget what was last seen before `before` (goals and counters stay)."""
        removed = 0
        for table, column in (
            ("events", "received_at"),
            ("messages", "seen_at"),
            ("visitors", "last_seen"),
            ("conversions", "last_at"),
            ("views", "last_at"),
            ("audiences", "updated_at"),
            ("nonces", "seen_at"),
            ("goal_revenue", "last_at"),
            ("custom_data", "last_at"),
        ):
            removed += self.db.execute(
                f"DELETE FROM {table} WHERE {column} < ?", (before,)
            ).rowcount
        for table, column in (("traits", "visitor"), ("links", "visitor")):
            removed += self.db.execute(
                f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM visitors v"
                f" WHERE v.sitecode = {table}.sitecode AND v.code = {table}.{column})"
            ).rowcount
        self.db.commit()
        return removed

    def ensure_goal(self, sitecode: str, name: str, custom: bool) -> int:
        row = self.goal_id(sitecode, name)
        if row is not None:
            return row
        self.dirty = True
        cur = self.db.execute(
            "INSERT INTO goals (sitecode, name, custom, created_at) VALUES (?, ?, ?, ?)",
            (sitecode, name, int(custom), time.time()),
        )
        return int(cur.lastrowid or 0)

    def goal_id(self, sitecode: str, name: str) -> int | None:
        row = self.db.execute(
            "SELECT id FROM goals WHERE sitecode = ? AND name = ?", (sitecode, name)
        ).fetchone()
        return None if row is None else row[0]

    def first_seen(self, sitecode: str, message_id: str) -> bool:
        """Record a messageId; False when it was already recorded (a duplicate)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO messages (sitecode, message_id, seen_at) VALUES (?, ?, ?)",
            (sitecode, message_id, time.time()),
        )
        self.dirty = True
        return cur.rowcount == 1

    def touch_visitor(self, sitecode: str, code: str, now: float) -> None:
        self.db.execute(
            "INSERT INTO visitors (sitecode, code, first_seen, last_seen) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen",
            (sitecode, code, now, now),
        )
        self.dirty = True

    def link(self, sitecode: str, kind: str, ident: str, visitor: str) -> None:
        self.db.execute(
            "INSERT INTO links (sitecode, kind, id, visitor) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET visitor = excluded.visitor",
            (sitecode, kind, ident, visitor),
        )

    def linked(self, sitecode: str, kind: str, ident: str) -> str | None:
        row = self.db.execute(
            "SELECT visitor FROM links WHERE sitecode = ? AND kind = ? AND id = ?",
            (sitecode, kind, ident),
        ).fetchone()
        return None if row is None else row[0]

    def convert(self, sitecode: str, visitor: str, goal_id: int, now: float) -> None:
        self.db.execute("UPDATE goals SET conversions = conversions + 1 WHERE id = ?", (goal_id,))
        self.db.execute(
            "INSERT INTO conversions (sitecode, visitor, goal_id, count, last_at)"
            " VALUES (?, ?, ?, 1, ?)"
            " ON CONFLICT DO UPDATE SET count = count + 1, last_at = excluded.last_at",
            (sitecode, visitor, goal_id, now),
        )

    def first_nonce(self, sitecode: str, nonce: str, now: float) -> bool:
        """Record a Data API line's nonce; False when it was seen before (a duplicate)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO nonces (sitecode, nonce, seen_at) VALUES (?, ?, ?)",
            (sitecode, nonce, now),
        )
        self.dirty = True
        return cur.rowcount == 1

    def add_revenue(
        self,
        sitecode: str,
        visitor: str,
        goal_id: int,
        kameleoon_id: int,
        revenue: float,
        now: float,
    ) -> None:
        """A Data API conversion: its Kameleoon goal id and revenue, beside the named goal."""
        self.db.execute(
            "INSERT INTO goal_revenue (sitecode, visitor, goal_id, kameleoon_id, count, revenue,"
            " last_at) VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO UPDATE SET count = count + 1,"
            " revenue = revenue + excluded.revenue, last_at = excluded.last_at",
            (sitecode, visitor, goal_id, kameleoon_id, revenue, now),
        )

    def set_custom_data(
        self,
        sitecode: str,
        visitor: str,
        index: int,
        values: list[str],
        overwrite: bool,
        now: float,
    ) -> None:
        row = self.db.execute(
            "SELECT vals FROM custom_data WHERE sitecode = ? AND visitor = ? AND idx = ?",
            (sitecode, visitor, index),
        ).fetchone()
        if row is not None and not overwrite:
            values = list(dict.fromkeys([*orjson.loads(row[0]), *values]))
        self.db.execute(
            "INSERT INTO custom_data (sitecode, visitor, idx, vals, last_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET vals = excluded.vals, last_at = excluded.last_at",
            (sitecode, visitor, index, orjson.dumps(values).decode(), now),
        )

    def view(self, sitecode: str, visitor: str, kind: str, name: str, now: float) -> None:
        self.db.execute(
            "INSERT INTO views (sitecode, visitor, kind, name, count, last_at)"
            " VALUES (?, ?, ?, ?, 1, ?)"
            " ON CONFLICT DO UPDATE SET count = count + 1, last_at = excluded.last_at",
            (sitecode, visitor, kind, name, now),
        )

    def set_traits(self, sitecode: str, visitor: str, scope: str, traits: dict[str, Any]) -> None:
        self.db.executemany(
            "INSERT INTO traits (sitecode, visitor, scope, key, value) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET value = excluded.value",
            [(sitecode, visitor, scope, k, orjson.dumps(v).decode()) for k, v in traits.items()],
        )

    def set_audience(self, sitecode: str, visitor: str, key: str, member: bool, now: float) -> None:
        self.db.execute(
            "INSERT INTO audiences (sitecode, visitor, key, member, updated_at)"
            " VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO UPDATE SET member = excluded.member, updated_at = excluded.updated_at",
            (sitecode, visitor, key, int(member), now),
        )

    def log_event(
        self, row: tuple[Any, ...], reason: str | None = None, sender: str | None = None
    ) -> None:
        """row: received_at, sitecode, message_id, type, name, visitor, outcome, goal, body;
        `reason` why it was rejected, `sender` which destination sent it."""
        self.db.execute(
            "INSERT INTO events (received_at, sitecode, message_id, type, name, visitor,"
            " outcome, goal, body, reason, sender) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*row, reason, sender),
        )
        self.dirty = True

    # -- reading ---------------------------------------------------------

    def goals(self, sitecode: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT g.sitecode, g.name, g.custom, g.conversions, g.created_at,"
            " (SELECT COUNT(*) FROM conversions c WHERE c.goal_id = g.id)"
            " FROM goals g WHERE ?1 IS NULL OR g.sitecode = ?1 ORDER BY g.sitecode, g.id",
            (sitecode,),
        )
        return [
            {
                "sitecode": site,
                "name": name,
                "custom": bool(custom),
                "conversions": conversions,
                "visitors": visitors,
                "created_at": created,
            }
            for site, name, custom, conversions, created, visitors in rows
        ]

    def visitor_keys(self, sitecode: str | None, limit: int) -> list[tuple[str, str]]:
        return self.db.execute(
            "SELECT sitecode, code FROM visitors WHERE ?1 IS NULL OR sitecode = ?1"
            " ORDER BY last_seen DESC, code LIMIT ?2",
            (sitecode, limit),
        ).fetchall()

    def find_visitor(self, code: str, sitecode: str | None) -> tuple[str, str] | None:
        row = self.db.execute(
            "SELECT sitecode, code FROM visitors WHERE code = ?1 AND (?2 IS NULL OR sitecode = ?2)"
            " ORDER BY sitecode LIMIT 1",
            (code, sitecode),
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def visitor(self, sitecode: str, code: str) -> dict[str, Any] | None:
        db = self.db
        row = db.execute(
            "SELECT first_seen, last_seen FROM visitors WHERE sitecode = ? AND code = ?",
            (sitecode, code),
        ).fetchone()
        if row is None:
            return None
        key = (sitecode, code)
        goals = db.execute(
            "SELECT g.name, c.count FROM conversions c JOIN goals g ON g.id = c.goal_id"
            " WHERE c.sitecode = ? AND c.visitor = ? ORDER BY c.last_at",
            key,
        ).fetchall()
        views = db.execute(
            "SELECT kind, name, count, last_at FROM views WHERE sitecode = ? AND visitor = ?"
            " ORDER BY last_at",
            key,
        ).fetchall()
        traits: dict[str, Any] = {}
        groups: dict[str, dict[str, Any]] = {}
        for scope, name, value in db.execute(
            "SELECT scope, key, value FROM traits WHERE sitecode = ? AND visitor = ?", key
        ):
            target = traits if scope == "" else groups.setdefault(scope, {})
            target[name] = orjson.loads(value)
        audiences = db.execute(
            "SELECT key, member FROM audiences WHERE sitecode = ? AND visitor = ? ORDER BY key",
            key,
        ).fetchall()
        links = db.execute(
            "SELECT kind, id FROM links WHERE sitecode = ? AND visitor = ? ORDER BY kind, id", key
        ).fetchall()
        revenue = db.execute(
            "SELECT r.kameleoon_id, g.name, r.count, r.revenue FROM goal_revenue r"
            " JOIN goals g ON g.id = r.goal_id WHERE r.sitecode = ? AND r.visitor = ?"
            " ORDER BY r.last_at",
            key,
        ).fetchall()
        custom = db.execute(
            "SELECT idx, vals FROM custom_data WHERE sitecode = ? AND visitor = ? ORDER BY idx",
            key,
        ).fetchall()
        return {
            "code": code,
            "sitecode": sitecode,
            "first_seen": row[0],
            "last_seen": row[1],
            "goals": dict(goals),
            "views": [
                {"kind": kind, "name": name, "count": count, "last_at": last}
                for kind, name, count, last in views
            ],
            "traits": traits,
            "groups": groups,
            "audiences": {name: bool(member) for name, member in audiences},
            "linked_ids": [{"kind": kind, "id": ident} for kind, ident in links],
            # What the Data API sent: conversions by goal id with revenue, custom data by index.
            "conversions": [
                {"goalId": goal_id, "name": name, "count": count, "revenue": total}
                for goal_id, name, count, total in revenue
            ],
            "custom_data": {str(index): orjson.loads(vals) for index, vals in custom},
        }

    def events(
        self,
        limit: int,
        sitecode: str | None = None,
        search: str | None = None,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; `search` matches messageId, type, name, visitor, outcome, goal,
        reason or sender (substring); page with `before` (the last `seq` seen)."""
        pattern = f"%{search}%" if search else None
        rows = self.db.execute(
            "SELECT seq, received_at, sitecode, message_id, type, name, visitor, outcome, goal,"
            " body, reason, sender FROM events WHERE (?1 IS NULL OR sitecode = ?1)"
            " AND (?3 IS NULL OR seq < ?3) AND (?4 IS NULL OR message_id LIKE ?4"
            " OR type LIKE ?4 OR name LIKE ?4 OR visitor LIKE ?4 OR outcome LIKE ?4"
            " OR goal LIKE ?4 OR reason LIKE ?4 OR sender LIKE ?4)"
            " ORDER BY seq DESC LIMIT ?2",
            (sitecode, limit, before, pattern),
        )
        return [
            {
                "seq": seq,
                "received_at": received,
                "sitecode": site,
                "messageId": message_id,
                "type": kind,
                "name": name,
                "visitor": visitor,
                "outcome": outcome,
                "goal": goal,
                "reason": reason,
                "sender": sender,
                "body": _body(body),
            }
            for (seq, received, site, message_id, kind, name, visitor, outcome, goal, body,
                 reason, sender) in rows
        ]  # fmt: skip

    def arrivals(self, sitecode: str | None = None) -> tuple[dict[str, list[str]], list[float]]:
        """user key -> messageIds in first-arrival order (accepted events still kept), and
        when each of those first arrivals came, in order."""
        users: dict[str, list[str]] = {}
        times: list[float] = []
        seen: set[str] = set()
        for user, message_id, at in self.db.execute(
            # Bodies are kept as sent (a BLOB, which SQLite's json functions would read as
            # JSONB): read as text.
            "SELECT coalesce(CAST(json_extract(text, '$.userId') AS TEXT),"
            " CAST(json_extract(text, '$.anonymousId') AS TEXT)), message_id, received_at"
            " FROM (SELECT seq, message_id, received_at, CAST(body AS TEXT) AS text FROM events"
            " WHERE outcome != 'rejected' AND message_id IS NOT NULL"
            " AND (?1 IS NULL OR sitecode = ?1)) WHERE json_valid(text) ORDER BY seq",
            (sitecode,),
        ):
            if user is not None and message_id not in seen:
                seen.add(message_id)
                users.setdefault(user, []).append(message_id)
                times.append(at)
        return users, times

    def totals(self) -> dict[str, int]:
        goals, visitors, events = self.db.execute(
            "SELECT (SELECT COUNT(*) FROM goals), (SELECT COUNT(*) FROM visitors),"
            " (SELECT COUNT(*) FROM events)"
        ).fetchone()
        return {"goals": goals, "visitors": visitors, "events_kept": events}


def _body(text: str | bytes) -> Any:
    """The stored body as JSON, or as text when it was not JSON (a rejected request)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.decode(errors="replace") if isinstance(text, bytes) else text
