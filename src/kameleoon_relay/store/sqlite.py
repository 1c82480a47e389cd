"""The embedded queue: one SQLite file in WAL mode, written by one thread with group commit."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from kameleoon_relay.store._thread import SQLiteReader, SQLiteThread, is_full
from kameleoon_relay.store.base import Store
from kameleoon_relay.store.errors import DatabaseURLError, StoreFull, StoreUnavailable
from kameleoon_relay.store.models import (
    ClaimedDelivery,
    DeliveryOutcome,
    EventRecord,
    IngestResult,
    UserOrder,
)
from kameleoon_relay.store.queries import (
    FINAL_STATES_SQL,
    SQLITE,
    attempt_rows,
    user_order_sql,
)
from kameleoon_relay.store.schema import MIGRATIONS, SCHEMA_VERSION

SYNCHRONOUS_MODES = ("off", "normal", "full", "extra")
OWNER_ONLY = 0o600  # the queue holds customer events: readable by the relay's user alone
_REASON_LIMIT = 300
WAL_CHECKPOINT_BYTES = 16_000_000
START_MIN_FREE_BYTES = 1_000_000  # serve refuses to start with less: ingest would be refused


class SQLiteStore(Store):
    dialect = SQLITE

    def __init__(self, path: str, dedupe_window: float, synchronous: str = "full") -> None:
        if synchronous.lower() not in SYNCHRONOUS_MODES:
            raise DatabaseURLError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = path
        self.synchronous = synchronous.upper()
        self.dedupe_window = dedupe_window
        self._thread: SQLiteThread | None = None
        self._reader: SQLiteReader | None = None  # None in memory: the writer reads too
        self._full = False  # seen full by /health, until there is room again
        self._lock: int | None = None  # the owner lock's file descriptor, while held

    # -- lifecycle -------------------------------------------------------------------------

    def check_available(self) -> None:
        holder = _lock_holder(self.path)
        if holder is not None:
            raise _in_use(self.path, holder)
        if self.path == ":memory:":
            return
        # Opened (and migrated) once here, so that a full disk is a one-line error.
        try:
            self._connect().close()
        except (sqlite3.Error, OSError) as exc:
            if is_full(exc):
                raise StoreUnavailable(_full_message(self.path)) from None
            raise
        free = _free_bytes(self.path)
        if free is not None and free < START_MIN_FREE_BYTES:
            raise StoreUnavailable(_full_message(self.path, free))

    async def open(self, recover: bool = True) -> None:
        if self._thread is not None:
            return
        if recover:
            # The owner resets in-flight work: a second owner would reset the first
            # one's work and send it twice. One relay per SQLite file.
            self._lock = _take_lock(self.path)
        try:
            on_disk = self.path != ":memory:"
            self._thread = SQLiteThread(
                self._connect,
                name=f"sqlite:{self.path}",
                synchronous=self.synchronous,
                wal_bytes=WAL_CHECKPOINT_BYTES,
                free_bytes=(lambda: _free_bytes(self.path)) if on_disk else None,
            )
            await self._thread.start()
            if on_disk:
                self._reader = SQLiteReader(self._read_connection, name=f"read:{self.path}")
            if recover:
                await self._run(_recover_in_flight)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
        if self._thread is not None:
            await self._thread.stop()
            self._thread = None
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    async def ping(self) -> bool:
        try:
            return bool(await self._read(lambda conn: conn.execute("SELECT 1").fetchone()))
        except Exception:
            return False

    async def disk_full(self) -> bool:
        """Full from a write failing for space until the disk has room again: at least
        START_MIN_FREE_BYTES free and a small write through. Steady, where the last write
        alone would flip while checkpoints free a little and ingest takes it again."""
        if self._thread is None:
            return False
        self._full = self._full or self._thread.full
        if not self._full:
            return False
        free = _free_bytes(self.path)
        if free is None or free >= START_MIN_FREE_BYTES:
            with contextlib.suppress(StoreFull):
                await self._run(_probe_space, urgent=True, durable=False)
                self._full = False
        return self._full

    @property
    def commits(self) -> int:
        """Transactions committed so far (group commit makes this far fewer than writes)."""
        return self._thread.commits if self._thread else 0

    def _connect(self) -> sqlite3.Connection:
        on_disk = self.path != ":memory:"
        if on_disk:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created owner-only before SQLite opens it; SQLite gives its WAL and SHM
            # files the database file's mode.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, OWNER_ONLY))
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")  # replay CLI and server share the file
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL fsyncs the WAL at every commit, so an acknowledged event also survives power
        # loss; group commit keeps that affordable. NORMAL survives a process crash only.
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        # Checkpoints fsync and copy each hot page (queue indexes, counts) once: fewer, larger
        # ones (WAL up to ~16 MB instead of ~4 MB) cut claim + record time by about a quarter.
        # (The page size stays SQLite's 4 KB: 8 KB pages made the database a third smaller and
        # ingest faster, but delivery's small claims and records wrote 20-75% more.)
        # Each job runs in a savepoint, so a statement's undo (statement journal) is kept
        # while it runs; in a temporary file it cost a 16-row claim 130 us instead of 55.
        conn.execute("PRAGMA temp_store = MEMORY")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_BYTES // page_size}")
        try:
            _migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        if on_disk:
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.chmod(self.path + suffix, OWNER_ONLY)
        return conn

    def _read_connection(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA query_only = ON")
        return conn

    async def _read(self, job: Any) -> Any:
        if self._reader is None:  # in memory: one connection holds the database
            return await self._run(job, urgent=True, durable=False)
        return await self._reader.run(job)

    async def _run(self, job: Any, *, urgent: bool = False, durable: bool = True) -> Any:
        if self._thread is None:
            raise RuntimeError("store is not open: await store.open() first")
        return await self._thread.run(job, urgent=urgent, durable=durable)

    # -- ingest and delivery ---------------------------------------------------------------

    async def _ingest_rows(self, items: list[EventRecord]) -> IngestResult:
        window = self.dedupe_window
        try:
            return await self._run(lambda conn: _ingest(conn, items, window, isolate=False))
        except Exception:
            # One item the database refuses must not cost the others: again, each item
            # in its own savepoint. If the commit itself fails, nothing was stored.
            return await self._run(lambda conn: _ingest(conn, items, window, isolate=True))

    async def _claim_rows(
        self, destination: str, limit: int, now: float, until: float, order: UserOrder | None
    ) -> list[ClaimedDelivery]:
        # Delivery goes first and needs no fsync: a claim lost to power loss is claimed again.
        owner = self.owner
        return await self._run(
            lambda conn: _claim(conn, destination, limit, now, until, order, owner),
            urgent=True,
            durable=False,
        )

    async def _record_rows(self, outcomes: list[DeliveryOutcome]) -> int:
        # A record lost to power loss only means the delivery is sent again (at least once).
        return await self._run(lambda conn: _record(conn, outcomes), urgent=True, durable=False)

    async def _release_rows(self, claims: list[ClaimedDelivery]) -> int:
        return await self._run(lambda conn: _release(conn, claims), urgent=True, durable=False)

    async def _release_owner_rows(self, owners: list[str]) -> int:
        return await self._run(
            lambda conn: _release_owners(conn, owners), urgent=True, durable=False
        )

    async def _reserve_rate_row(self, destination: str, span: float, now: float) -> float:
        return await self._run(
            lambda conn: conn.execute(
                "INSERT INTO rate_limits (destination, tat) VALUES (?, ?)"
                " ON CONFLICT (destination) DO UPDATE SET tat = max(tat, ?) + ?"
                " RETURNING tat",
                (destination, now + span, now, span),
            ).fetchone()[0],
            urgent=True,
            durable=False,  # lost to power loss: a moment's sends are let through again
        )

    async def linked_code(self, identity_ids: list[str]) -> str | None:
        return await self._run(lambda conn: _lookup_code(conn, identity_ids))

    async def _fetch(
        self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False
    ) -> list[dict[str, Any]]:
        # On the reader's connection: never behind, nor failing with, the writer's work.
        return await self._read(lambda conn: _fetch_dicts(conn, sql, params))

    # -- monitoring --------------------------------------------------------------------------

    async def throughput(self, since: float, bucket: float = 60.0) -> list[dict[str, Any]]:
        return await self._read(lambda conn: _throughput(conn, since, bucket))

    # -- replay and retention --------------------------------------------------------------

    async def _requeue_rows(
        self, delivery_ids: list[int], states: tuple[str, ...], now: float
    ) -> int:
        return await self._run(lambda conn: _requeue(conn, delivery_ids, states, now))

    async def prune(self, before: float, limit: int) -> int:
        return await self._run(lambda conn: _prune(conn, before, limit), durable=False)


def _probe_space(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO counters (name, value) VALUES ('space_probe', 1)"
        " ON CONFLICT (name) DO UPDATE SET value = value + 1"
    )


def _free_bytes(path: str) -> int | None:
    try:
        disk = os.statvfs(Path(path).parent)
    except OSError:
        return None
    return disk.f_bavail * disk.f_frsize


def _full_message(path: str, free: int | None = None) -> str:
    room = "no room" if free is None else f"{free // 1024} KB free"
    return (
        f"the disk holding the SQLite store {path} is full ({room}); free some space"
        " there (or point database: elsewhere) and start again"
    )


# -- the owner lock: `<file>.lock`, flock'ed by the serving process, holding its PID -----


def _lock_path(path: str) -> str | None:
    return None if path == ":memory:" else path + ".lock"


def _take_lock(path: str) -> int | None:
    lock_path = _lock_path(path)
    if lock_path is None:
        return None
    Path(lock_path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, OWNER_ONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        raise _in_use(path, holder) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _lock_holder(path: str) -> int | None:
    """The PID of the process serving `path`, or None if none does (0: unknown PID)."""
    lock_path = _lock_path(path)
    if lock_path is None or not os.path.exists(lock_path):
        return None
    fd = os.open(lock_path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int:
    with contextlib.suppress(ValueError):
        return int(os.pread(fd, 32, 0).decode(errors="replace").strip() or 0)
    return 0


def _in_use(path: str, pid: int) -> StoreUnavailable:
    holder = f"pid {pid}" if pid else "another process"
    return StoreUnavailable(
        f"database {path} is in use by another kameleoon-relay ({holder}); one relay per"
        " SQLite file: stop that one, or use PostgreSQL to run several"
    )


# -- jobs: run on the store's thread, inside its transaction ------------------------------


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{path} has schema version {version}; this relay knows {SCHEMA_VERSION}"
        )
    if version == SCHEMA_VERSION:
        return
    # Rows a migration drops may hold what must not stay on disk (old stored requests).
    secure_delete = conn.execute("PRAGMA secure_delete").fetchone()[0]
    conn.execute("PRAGMA secure_delete = ON")
    try:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            # executescript commits first; each migration is one transaction with its version.
            script = MIGRATIONS[target - 1]
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {target};\nCOMMIT;"
            )
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(secure_delete)}")


def _recover_in_flight(conn: sqlite3.Connection) -> int:
    rows = conn.execute(
        "UPDATE deliveries SET state = 'pending', lease_until = NULL WHERE state = 'in_flight'"
        " RETURNING destination, action, attempts"
    ).fetchall()
    return _count_released(conn, rows)


def _release_owners(conn: sqlite3.Connection, owners: list[str]) -> int:
    marks = ",".join("?" * len(owners))
    rows = conn.execute(
        "UPDATE deliveries SET state = 'pending', lease_until = NULL"
        f" WHERE state = 'in_flight' AND claimed_by IN ({marks})"
        " RETURNING destination, action, attempts",
        owners,
    ).fetchall()
    return _count_released(conn, rows)


def _count_released(conn: sqlite3.Connection, rows: list[Any]) -> int:
    counts: Counts = Counter()
    for destination, action, attempts in rows:
        _move(counts, destination, action, "in_flight", _reported("pending", attempts))
    _add_counts(conn, counts)
    return len(rows)


def _ingest(
    conn: sqlite3.Connection, items: list[EventRecord], window: float, isolate: bool
) -> IngestResult:
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    duplicates: Counter[str] = Counter()
    if isolate:
        failed, conflicts = _ingest_each(conn, items, window, counts, duplicates)
    else:
        failed, conflicts = {}, _ingest_batch(conn, items, window, counts, duplicates)
    _bump(conn, "events_received", counts["accepted"])
    _bump(conn, "events_duplicate", counts["duplicate"])
    _bump(conn, "events_rejected", counts["rejected"])
    _bump(conn, "identity_conflicts", conflicts)
    return IngestResult(
        counts["accepted"], counts["duplicate"], counts["rejected"], failed, dict(duplicates)
    )


def _ingest_each(
    conn: sqlite3.Connection,
    items: list[EventRecord],
    window: float,
    counts: dict[str, int],
    duplicates: Counter[str],
) -> tuple[dict[int, str], int]:
    """One savepoint per item: the slow path once the database refused the batch."""
    failed: dict[int, str] = {}
    seen: set[str] = set()
    conflicts = 0
    for index, item in enumerate(items):
        conn.execute("SAVEPOINT item")
        try:
            outcome, replaced = _ingest_one(conn, item, window, seen)
        except Exception as exc:
            conn.execute("ROLLBACK TO item")
            conn.execute("RELEASE item")
            failed[index] = f"could not be stored ({type(exc).__name__})"
            continue
        conn.execute("RELEASE item")
        counts[outcome] += 1
        if outcome == "duplicate":
            duplicates[item.source] += 1
        conflicts += replaced
    return failed, conflicts


def _ingest_batch(
    conn: sqlite3.Connection,
    items: list[EventRecord],
    window: float,
    counts: dict[str, int],
    duplicates: Counter[str],
) -> int:
    """The whole group in a few statements; returns how many identity links it replaced.

    Decides each item in order as `_ingest_one` does (links and lookups included, so a
    later item sees an earlier one's link), then writes the rows with one executemany per
    table. Event ids are assigned here, as SQLite would (max + 1: the write lock is ours),
    so the deliveries can name them without a statement per event.
    """
    latest = _latest_received(conn, [item.message_id for item in items if item.problems is None])
    rejected: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    deliveries: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    conflicts = 0
    event_id = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    for item in items:
        if item.problems is not None:
            rejected.append(_rejected_row(item))
            counts["rejected"] += 1
            continue
        last = latest.get(item.message_id)
        if item.message_id in seen or (last is not None and last >= item.received_at - window):
            counts["duplicate"] += 1
            duplicates[item.source] += 1
            continue
        code = None
        if item.link_code:
            conflicts += _link(conn, item.identity_ids, item.link_code, item.received_at)
        elif item.resolve_code and item.identity_ids:
            code = _lookup_code(conn, item.identity_ids)
        event_id += 1
        events.append(
            (
                event_id,
                item.message_id,
                item.source,
                item.user_id,
                item.received_at,
                code,
                item.body,
            )
        )
        at, key = item.received_at, item.user_key
        deliveries.extend((event_id, name, key, at, at, at, at) for name in item.destinations)
        seen.add(item.message_id)
        counts["accepted"] += 1
    if rejected:
        conn.executemany(_INSERT_REJECTED, rejected)
    conn.executemany(
        "INSERT INTO events (id, message_id, source, user_id, received_at, visitor_code, body)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        events,
    )
    conn.executemany(_INSERT_DELIVERY, deliveries)
    _add_counts(conn, Counter((row[1], "", "pending") for row in deliveries))
    return conflicts


_INSERT_REJECTED = (
    "INSERT INTO rejected_events (message_id, source, received_at, body, problems)"
    " VALUES (?, ?, ?, ?, ?)"
)
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (event_id, destination, user_key, state, created_at, window_start,"
    " next_attempt_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)"
)
_IN_LIMIT = 500  # values per `IN (...)`: well under SQLite's variable limit


def _rejected_row(item: EventRecord) -> tuple[Any, ...]:
    problems = orjson.dumps(list(item.problems or ()))
    return (item.message_id, item.source, item.received_at, item.body, problems)


def _latest_received(conn: sqlite3.Connection, message_ids: list[str]) -> dict[str, float]:
    """message id -> when an event with it was last received, for those stored."""
    latest: dict[str, float] = {}
    unique = list(dict.fromkeys(message_ids))
    for start in range(0, len(unique), _IN_LIMIT):
        chunk = unique[start : start + _IN_LIMIT]
        latest.update(
            conn.execute(
                "SELECT message_id, max(received_at) FROM events"
                f" WHERE message_id IN ({','.join('?' * len(chunk))}) GROUP BY message_id",
                chunk,
            ).fetchall()
        )
    return latest


def _ingest_one(
    conn: sqlite3.Connection, item: EventRecord, window: float, seen: set[str]
) -> tuple[str, int]:
    """Store one event; returns what it was and how many identity links it replaced."""
    if item.problems is not None:
        conn.execute(_INSERT_REJECTED, _rejected_row(item))
        return "rejected", 0
    if item.message_id in seen or _seen_recently(conn, item, window):
        return "duplicate", 0
    replaced = 0
    code = None
    if item.link_code:
        replaced = _link(conn, item.identity_ids, item.link_code, item.received_at)
    elif item.resolve_code and item.identity_ids:
        code = _lookup_code(conn, item.identity_ids)
    event_id = conn.execute(
        "INSERT INTO events (message_id, source, user_id, received_at, visitor_code, body)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (item.message_id, item.source, item.user_id, item.received_at, code, item.body),
    ).lastrowid
    at, key = item.received_at, item.user_key
    conn.executemany(
        _INSERT_DELIVERY, [(event_id, name, key, at, at, at, at) for name in item.destinations]
    )
    _add_counts(conn, Counter((name, "", "pending") for name in item.destinations))
    seen.add(item.message_id)  # only once stored: a refused twin must not hide the next
    return "accepted", replaced


def _link(conn: sqlite3.Connection, ids: tuple[str, ...], code: str, at: float) -> int:
    """Link `ids` to `code`; the newest link wins. Returns how many links it replaced."""
    replaced = 0
    for key in ids:
        row = conn.execute("SELECT code FROM identity_links WHERE id = ?", (key,)).fetchone()
        if row is not None and row[0] == code:
            continue
        replaced += row is not None
        conn.execute(
            "INSERT INTO identity_links (id, code, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET code = excluded.code,"
            " updated_at = excluded.updated_at",
            (key, code, at),
        )
    return replaced


def _lookup_code(conn: sqlite3.Connection, ids: list[str] | tuple[str, ...]) -> str | None:
    for key in ids:
        row = conn.execute("SELECT code FROM identity_links WHERE id = ?", (key,)).fetchone()
        if row is not None:
            return row[0]
    return None


def _seen_recently(conn: sqlite3.Connection, item: EventRecord, window: float) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM events WHERE message_id = ? AND received_at >= ? LIMIT 1",
            (item.message_id, item.received_at - window),
        ).fetchone()
        is not None
    )


def _bump(conn: sqlite3.Connection, name: str, by: int) -> None:
    if by:
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )


_CLAIM = """
UPDATE deliveries SET state = 'in_flight', lease_until = :lease, updated_at = :now,
    claimed_by = :owner
WHERE id IN (
    SELECT id FROM deliveries d
    WHERE state = 'pending' AND destination = :destination AND next_attempt_at <= :now{order}
    ORDER BY next_attempt_at LIMIT :limit
)
RETURNING id, event_id, attempts, window_start, done, action
"""
_CLAIM_ANY = _CLAIM.format(order="")
_CLAIM_PER_USER = _CLAIM.format(order=f"\n      AND {user_order_sql(None)}")
_HOT_USERS = "d.user_key IN (SELECT value FROM json_each(:hot))"
_CLAIM_PER_USER_HOT = _CLAIM.format(order=f"\n      AND {user_order_sql(_HOT_USERS)}")


def _claim(
    conn: sqlite3.Connection,
    destination: str,
    limit: int,
    now: float,
    lease: float,
    order: UserOrder | None,
    owner: str | None,
) -> list[ClaimedDelivery]:
    counts: Counts = Counter()
    # Work whose lease ran out (a worker that died, a record that failed) is due again.
    for action, attempts in conn.execute(
        "UPDATE deliveries SET state = 'pending', lease_until = NULL"
        " WHERE state = 'in_flight' AND destination = ? AND lease_until < ?"
        " RETURNING action, attempts",
        (destination, now),
    ):
        _move(counts, destination, action, "in_flight", _reported("pending", attempts))
    params = {
        "now": now,
        "destination": destination,
        "limit": limit,
        "lease": lease,
        "owner": owner,
    }
    if order is None:
        rows = conn.execute(_CLAIM_ANY, params).fetchall()
    elif not order.hot:
        rows = conn.execute(_CLAIM_PER_USER, params).fetchall()
    else:
        hot = orjson.dumps(sorted(order.hot)).decode()
        rows = conn.execute(_CLAIM_PER_USER_HOT, {**params, "hot": hot}).fetchall()
    for row in rows:
        _move(counts, destination, row[5], _reported("pending", row[2]), "in_flight")
    _add_counts(conn, counts)
    if not rows:
        return []
    marks = ",".join("?" * len(rows))
    events = {
        row[0]: row
        for row in conn.execute(
            f"SELECT id, source, message_id, body, visitor_code FROM events WHERE id IN ({marks})",
            [row[1] for row in rows],
        )
    }
    claimed = []
    for delivery_id, event_id, attempts, window_start, done, _ in sorted(rows):
        _, source, message_id, body, code = events[event_id]
        claimed.append(
            ClaimedDelivery(
                id=delivery_id,
                event_id=event_id,
                destination=destination,
                source=source,
                message_id=message_id,
                body=body,
                visitor_code=code,
                attempts=attempts,
                window_start=window_start,
                lease=lease,
                done=frozenset(orjson.loads(done)) if done else frozenset(),
            )
        )
    return claimed


def _release(conn: sqlite3.Connection, claims: list[ClaimedDelivery]) -> int:
    counts: Counts = Counter()
    released = 0
    for claimed in claims:
        row = conn.execute(
            "UPDATE deliveries SET state = 'pending', lease_until = NULL"
            " WHERE id = ? AND state = 'in_flight' AND lease_until = ?"
            " RETURNING destination, action, attempts",
            (claimed.id, claimed.lease),
        ).fetchone()
        if row is not None:
            _move(counts, row[0], row[1], "in_flight", _reported("pending", row[2]))
            released += 1
    _add_counts(conn, counts)
    return released


def _record(conn: sqlite3.Connection, outcomes: list[DeliveryOutcome]) -> int:
    """Record a batch of outcomes; returns how many were still leased (the rest are stale).

    One lookup finds the deliveries still in flight under the outcome's lease; then one
    executemany per table writes the fresh outcomes only.
    """
    leased = _in_flight(conn, [outcome.delivery_id for outcome in outcomes])
    fresh: list[tuple[DeliveryOutcome, str, str]] = []  # with destination and old action
    for outcome in outcomes:
        row = leased.pop(outcome.delivery_id, None)  # popped: a second outcome is stale
        if row is not None and row[2] == outcome.lease:
            fresh.append((outcome, row[0], row[1]))
    if not fresh:
        return 0
    updated = conn.executemany(_RECORD_UPDATE, [_record_row(o) for o, _, _ in fresh]).rowcount
    if updated != len(fresh):  # cannot happen under our write lock; the counts rely on it
        raise RuntimeError(f"recorded {updated} deliveries of {len(fresh)} found in flight")
    conn.executemany(
        _INSERT_ATTEMPT, [row for outcome, _, _ in fresh for row in attempt_rows(outcome)]
    )
    counts: Counts = Counter()
    filtered: Counter[tuple[str, str, str]] = Counter()
    for outcome, destination, action in fresh:
        new_state = _reported(outcome.state, 1)  # attempts + 1 > 0
        counts[(destination, action, "in_flight")] -= 1
        counts[(destination, outcome.actions, new_state)] += 1
        if outcome.filtered is not None:
            name, reason = outcome.filtered
            filtered[(destination, name, reason[:_REASON_LIMIT])] += 1
    _add_counts(conn, counts)
    if filtered:
        conn.executemany(
            "INSERT INTO filter_counts (destination, filter, reason, n) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (destination, filter, reason) DO UPDATE SET n = n + excluded.n",
            [(*key, n) for key, n in filtered.items()],
        )
    return len(fresh)


_RECORD_UPDATE = """
UPDATE deliveries SET state = ?, attempts = attempts + 1, action = ?, done = ?,
    last_status = ?, last_error = ?, last_attempt_at = ?, last_latency = ?,
    next_attempt_at = COALESCE(?, next_attempt_at), updated_at = ?, lease_until = NULL
WHERE id = ? AND state = 'in_flight' AND lease_until = ?
"""
_INSERT_ATTEMPT = (
    "INSERT INTO attempts (delivery_id, attempted_at, subscription, action, outcome, status,"
    " error, latency, url, headers, body, response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _in_flight(conn: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[str, str, float]]:
    """id -> (destination, action, lease_until) of those of `ids` still in flight."""
    found: dict[int, tuple[str, str, float]] = {}
    for start in range(0, len(ids), _IN_LIMIT):
        chunk = ids[start : start + _IN_LIMIT]
        for delivery_id, *rest in conn.execute(
            "SELECT id, destination, action, lease_until FROM deliveries"
            f" WHERE id IN ({','.join('?' * len(chunk))}) AND state = 'in_flight'",
            chunk,
        ):
            found[delivery_id] = tuple(rest)  # type: ignore[assignment]
    return found


def _record_row(outcome: DeliveryOutcome) -> tuple[Any, ...]:
    done = orjson.dumps(sorted(outcome.done)).decode() if outcome.done else None
    return (
        outcome.state,
        outcome.actions,
        done,
        outcome.status,
        outcome.error,
        outcome.attempted_at,
        outcome.latency,
        outcome.next_attempt_at,
        outcome.attempted_at,
        outcome.delivery_id,
        outcome.lease,
    )


def _requeue(conn: sqlite3.Connection, ids: list[int], states: tuple[str, ...], now: float) -> int:
    id_marks, state_marks = ",".join("?" * len(ids)), ",".join("?" * len(states))
    counts: Counts = Counter()
    for destination, action, state, attempts in conn.execute(
        f"SELECT destination, action, state, attempts FROM deliveries"
        f" WHERE id IN ({id_marks}) AND state IN ({state_marks})",
        (*ids, *states),
    ):
        _move(counts, destination, action, _reported(state, attempts), "pending")
    _add_counts(conn, counts)
    return conn.execute(
        f"""
        UPDATE deliveries SET state = 'pending', attempts = 0, replays = replays + 1,
            done = NULL, window_start = ?, next_attempt_at = ?, updated_at = ?
        WHERE id IN ({id_marks}) AND state IN ({state_marks})
        """,
        (now, now, now, *ids, *states),
    ).rowcount


def _prune(conn: sqlite3.Connection, before: float, limit: int) -> int:
    rows = conn.execute(
        "SELECT id, destination, action, state FROM deliveries"
        f" WHERE {FINAL_STATES_SQL} AND updated_at < ? LIMIT ?",
        (before, limit),
    ).fetchall()
    removed = 0
    if rows:
        ids = [row[0] for row in rows]
        id_marks = ",".join("?" * len(ids))
        removed += conn.execute(
            f"DELETE FROM attempts WHERE delivery_id IN ({id_marks})", ids
        ).rowcount
        removed += conn.execute(f"DELETE FROM deliveries WHERE id IN ({id_marks})", ids).rowcount
        gone: Counts = Counter()
        for _, destination, action, state in rows:
            gone[(destination, action, state)] -= 1  # final states: reported as stored
        _add_counts(conn, gone)
    removed += conn.execute(
        "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.received_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT ?)",
        (before, limit),
    ).rowcount
    removed += conn.execute(
        "DELETE FROM rejected_events WHERE id IN"
        " (SELECT id FROM rejected_events WHERE received_at < ? LIMIT ?)",
        (before, limit),
    ).rowcount
    return removed


# -- delivery_counts: kept by the statements that change a delivery's reported state -----

Counts = Counter  # (destination, action, reported state) -> change in n


def _reported(state: str, attempts: int) -> str:
    return "retrying" if state == "pending" and attempts > 0 else state


def _move(counts: Counts, destination: str, action: str, old: str, new: str) -> None:
    counts[(destination, action, old)] -= 1
    counts[(destination, action, new)] += 1


def _add_counts(conn: sqlite3.Connection, counts: Counts) -> None:
    rows = [(*key, n) for key, n in counts.items() if n]
    if rows:
        conn.executemany(
            "INSERT INTO delivery_counts (destination, action, state, n) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (destination, action, state) DO UPDATE SET n = n + excluded.n",
            rows,
        )


def _throughput(conn: sqlite3.Connection, since: float, bucket: float) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}

    def slot(at: float) -> dict[str, Any]:
        index = int((at - since) // bucket)
        return rows.setdefault(
            index, {"at": since + index * bucket, "received": 0, "delivered": 0, "failed": 0}
        )

    for at, n in conn.execute("SELECT received_at, 1 FROM events WHERE received_at >= ?", (since,)):
        slot(at)["received"] += n
    # The partial index deliveries_final (state, updated_at) serves both.
    for state, at in conn.execute(
        "SELECT state, updated_at FROM deliveries"
        f" WHERE {FINAL_STATES_SQL} AND state != 'filtered' AND updated_at >= ?",
        (since,),
    ):
        slot(at)["delivered" if state == "delivered" else "failed"] += 1
    return [rows[index] for index in sorted(rows)]


def _fetch_dicts(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
