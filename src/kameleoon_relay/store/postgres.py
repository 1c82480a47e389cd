"""The shared queue: PostgreSQL, for many relay processes on many machines.

Every method is one short transaction on a pooled connection (psycopg 3, async).
Several processes share the work safely because:
- claims take due rows with `FOR UPDATE SKIP LOCKED`, so two processes never claim the
  same delivery and never wait on each other's claims;
- a claim is a lease: work whose lease ran out (its process died, or its outcome could
  not be recorded) is due again for any process; `open()` never resets another live
  process's in-flight work;
- `record()` applies an outcome only under the lease it was claimed with;
- dedupe is `INSERT ... ON CONFLICT` on `message_ids` (see postgres_schema.py), and
  identity links are upserts, so every process sees the others' messageIds and links.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from kameleoon_relay.store.base import Store
from kameleoon_relay.store.errors import DatabaseURLError, StoreUnavailable
from kameleoon_relay.store.models import (
    FINAL_STATES,
    ClaimedDelivery,
    DeliveryOutcome,
    EventRecord,
    IngestResult,
    UserOrder,
)
from kameleoon_relay.store.owner import is_dead_here, machine_prefix
from kameleoon_relay.store.postgres_schema import MIGRATION_LOCK, MIGRATIONS, SCHEMA_VERSION
from kameleoon_relay.store.queries import POSTGRES, attempt_rows, user_order_sql

# The same row shapes as SQLite's: one definition of what a delivery looks like.
from kameleoon_relay.store.urls import masked_url, split_url

log = logging.getLogger("kameleoon_relay.store")

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

_REASON_LIMIT = 300
# admin_shutdown, crash_shutdown, cannot_connect_now: the server is going or coming back.
_SHUTDOWN_STATES = ("57P01", "57P02", "57P03")
DEFAULT_POOL_SIZE = 10
DEFAULT_POOL_TIMEOUT = 5.0  # how long a request waits for a connection before its 503
PING_TIMEOUT = 2.0
# pg_try_advisory_xact_lock key: one process at a time folds the counter shards.
FOLD_LOCK = MIGRATION_LOCK + 1
RECOVER_SECONDS = 10.0  # at start, giving back the work of relays that died here


class PostgresStore(Store):
    dialect = POSTGRES

    def __init__(self, url: str, dedupe_window: float) -> None:
        self._conninfo, options = split_url(url)
        self.url = masked_url(url)
        self.dedupe_window = dedupe_window
        try:
            self.pool_size = int(options.get("pool_size", DEFAULT_POOL_SIZE))
            self.pool_timeout = float(options.get("pool_timeout", DEFAULT_POOL_TIMEOUT))
        except ValueError as exc:
            raise DatabaseURLError(
                f"database: pool_size and pool_timeout must be numbers ({exc})"
            ) from None
        if self.pool_size < 1 or self.pool_timeout <= 0:
            raise DatabaseURLError("database: pool_size must be >= 1 and pool_timeout > 0")
        self._pool: AsyncConnectionPool | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    # -- lifecycle -------------------------------------------------------------------------

    def check_available(self) -> None:
        try:
            with psycopg.connect(self._conninfo, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise StoreUnavailable(
                f"cannot reach PostgreSQL at {self.url}: {_first_line(exc, self._conninfo)}"
            ) from None

    async def open(self, recover: bool = True) -> None:
        # `recover` gives back the in-flight work of relays of this machine that died (their
        # identity says so); other machines' work comes back when its lease ends, and
        # resetting all of it would steal live processes' work.
        if self._pool is not None:
            return
        pool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self.pool_size,
            kwargs={"autocommit": True},
            timeout=self.pool_timeout,
            reconnect_timeout=24 * 3600.0,  # a database away for long is waited for
            open=False,
            name="kameleoon-relay",
        )
        try:
            await pool.open(wait=True, timeout=30)
            async with pool.connection() as conn:
                await _migrate(conn)
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, psycopg.Error | TimeoutError):
                raise StoreUnavailable(
                    f"cannot open PostgreSQL at {self.url}: {_first_line(exc, self._conninfo)}"
                ) from None
            raise
        self._pool = pool
        if recover:
            # Bounded: a relay starts even if this cannot be done now (the leases will).
            try:
                given = await asyncio.wait_for(self._recover_dead_owners(), RECOVER_SECONDS)
            except (psycopg.Error, TimeoutError) as exc:
                why = _first_line(exc, self._conninfo) if isinstance(exc, psycopg.Error) else ""
                log.warning(
                    "in-flight work of relays that died here not given back at start (%s);"
                    " their leases will",
                    why or "timeout",
                )
            else:
                if given:
                    log.warning("%d deliveries of a relay that died here given back", given)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> bool:
        if self._pool is None:
            return False
        try:
            async with self._pool.connection(timeout=PING_TIMEOUT) as conn:
                await conn.execute("SELECT 1")
        except Exception:
            return False
        return True

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        if self._pool is None:
            raise RuntimeError("store is not open: await store.open() first")
        async with self._pool.connection() as conn, conn.transaction():
            yield conn

    async def _run(self, job: Callable[[Conn], Awaitable[T]]) -> T:
        """`job` in one transaction; once more on a fresh connection if the pooled one was
        broken (the database restarted since it was last used)."""
        for retry in (True, False):
            try:
                async with self._tx() as conn:
                    return await job(conn)
            except psycopg.OperationalError as exc:
                if not retry or isinstance(exc, PoolTimeout) or not _is_disconnect(exc):
                    raise
                log.warning("database connection lost; trying once more on a new one")
        raise AssertionError("unreachable")

    # -- ingest and delivery ---------------------------------------------------------------

    async def _ingest_rows(self, items: list[EventRecord]) -> IngestResult:
        window = self.dedupe_window
        try:
            return await self._run(lambda conn: _ingest(conn, items, window, isolate=False))
        except psycopg.Error as exc:
            if _is_disconnect(exc):
                raise  # the database is away: nothing to isolate
            # One item the database refuses must not cost the others: again, each item in
            # its own savepoint (a deadlock with another process also lands here).
            return await self._run(lambda conn: _ingest(conn, items, window, isolate=True))

    async def _claim_rows(
        self, destination: str, limit: int, now: float, until: float, order: UserOrder | None
    ) -> list[ClaimedDelivery]:
        owner = self.owner
        return await self._run(
            lambda conn: _claim(conn, destination, limit, now, until, order, owner)
        )

    async def _record_rows(self, outcomes: list[DeliveryOutcome]) -> int:
        return await self._run(lambda conn: _record(conn, outcomes))

    async def _release_rows(self, claims: list[ClaimedDelivery]) -> int:
        return await self._run(lambda conn: _release(conn, claims))

    async def _release_owner_rows(self, owners: list[str]) -> int:
        return await self._run(lambda conn: _release_owners(conn, owners))

    async def _recover_dead_owners(self) -> int:
        """In-flight work of relays of this machine that have died: given back now."""
        rows = await self._fetch(
            "SELECT DISTINCT claimed_by FROM deliveries"
            " WHERE state = 'in_flight' AND claimed_by LIKE %s",
            [machine_prefix().replace("%", r"\%").replace("_", r"\_") + "%"],
        )
        dead = [row["claimed_by"] for row in rows if is_dead_here(row["claimed_by"])]
        return await self.release_owner(*dead)

    async def _reserve_rate_row(self, destination: str, span: float, now: float) -> float:
        return await self._run(lambda conn: _reserve_rate(conn, destination, span, now))

    async def linked_code(self, identity_ids: list[str]) -> str | None:
        return await self._run(lambda conn: _lookup_code(conn, identity_ids))

    async def _fetch(
        self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False
    ) -> list[dict[str, Any]]:
        return await self._run(lambda conn: _fetch(conn, sql, params))

    # -- monitoring ------------------------------------------------------------------------

    async def throughput(self, since: float, bucket: float = 60.0) -> list[dict[str, Any]]:
        return await self._run(lambda conn: _throughput(conn, since, bucket))

    # -- replay and retention --------------------------------------------------------------

    async def _requeue_rows(
        self, delivery_ids: list[int], states: tuple[str, ...], now: float
    ) -> int:
        return await self._run(lambda conn: _requeue(conn, delivery_ids, states, now))

    async def prune(self, before: float, limit: int) -> int:
        removed = await self._run(lambda conn: _prune(conn, before, limit))
        await self._run(_fold_counters)
        return removed


# -- jobs: each runs inside one transaction -------------------------------------------------


async def _migrate(conn: Conn) -> None:
    # A session lock, so that the version is read and raised by one process at a time.
    await conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = await (await conn.execute("SELECT max(version) FROM schema_version")).fetchone()
        version = row[0] if row and row[0] is not None else 0
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"the database has schema version {version}; this relay knows {SCHEMA_VERSION}"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            async with conn.transaction():  # each migration with its version, or nothing
                await conn.execute(MIGRATIONS[target - 1])
                await conn.execute("DELETE FROM schema_version")
                await conn.execute("INSERT INTO schema_version VALUES (%s)", [target])
            log.info("database schema migrated to version %d", target)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])


async def _ingest(
    conn: Conn, items: list[EventRecord], window: float, isolate: bool
) -> IngestResult:
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0, "conflicts": 0}
    failed: dict[int, str] = {}
    duplicates: Counter[str] = Counter()
    if not isolate:
        counts = await _store_items(conn, items, window, duplicates)
    else:
        for index, item in enumerate(items):
            try:
                async with conn.transaction():  # a savepoint: this item alone rolls back
                    one = await _store_items(conn, [item], window, duplicates)
            except psycopg.Error as exc:
                if _is_disconnect(exc):
                    raise
                failed[index] = f"could not be stored ({_error_class(exc)})"
                continue
            for key, value in one.items():
                counts[key] += value
    bumps = {
        "events_received": counts["accepted"],
        "events_duplicate": counts["duplicate"],
        "events_rejected": counts["rejected"],
        "identity_conflicts": counts["conflicts"],
    }
    await _bump(conn, bumps)
    return IngestResult(
        counts["accepted"], counts["duplicate"], counts["rejected"], failed, dict(duplicates)
    )


async def _store_items(
    conn: Conn, items: list[EventRecord], window: float, duplicates: Counter[str]
) -> dict[str, int]:
    """Store events in a few set-based statements; returns what each item turned out to be
    (and counts the duplicates per source in `duplicates`)."""
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0, "conflicts": 0}
    rejected = [item for item in items if item.problems is not None]
    if rejected:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO rejected_events (message_id, source, received_at, body, problems)"
                " VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        i.message_id,
                        i.source,
                        i.received_at,
                        i.body,
                        orjson.dumps(list(i.problems or ())).decode(),
                    )
                    for i in rejected
                ],
            )
        counts["rejected"] = len(rejected)
    # The first of twins in one call is the candidate; the others are duplicates.
    candidates: dict[str, EventRecord] = {}
    for item in items:
        if item.problems is None:
            candidates.setdefault(item.message_id, item)
    valid = len(items) - len(rejected)
    if not candidates:
        counts["duplicate"] = valid
        duplicates.update(item.source for item in items if item.problems is None)
        return counts
    ordered = sorted(candidates)  # one lock order for every process: no deadlock
    cursor = await conn.execute(
        """
        INSERT INTO message_ids (message_id, received_at)
        SELECT * FROM unnest(%s::text[], %s::float8[]) ORDER BY 1
        ON CONFLICT (message_id) DO UPDATE SET received_at = excluded.received_at
        WHERE message_ids.received_at < excluded.received_at - %s
        RETURNING message_id
        """,
        [ordered, [candidates[m].received_at for m in ordered], window],
    )
    new = {row[0] for row in await cursor.fetchall()}
    accepted = [item for item in candidates.values() if item.message_id in new]
    counts["accepted"] = len(accepted)
    counts["duplicate"] = valid - len(accepted)
    if counts["duplicate"]:
        taken = {id(item) for item in accepted}
        duplicates.update(
            item.source for item in items if item.problems is None and id(item) not in taken
        )
    if not accepted:
        return counts
    # Links in event order: a link is seen by the later items of the same call.
    codes: list[str | None] = []
    for item in accepted:
        code = None
        if item.link_code:
            counts["conflicts"] += await _link(
                conn, item.identity_ids, item.link_code, item.received_at
            )
        elif item.resolve_code and item.identity_ids:
            code = await _lookup_code(conn, item.identity_ids)
        codes.append(code)
    cursor = await conn.execute(
        "SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, %s)",
        [len(accepted)],
    )
    ids = [row[0] for row in await cursor.fetchall()]
    await conn.execute(
        "INSERT INTO events (id, message_id, source, user_id, received_at, visitor_code, body)"
        " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::float8[],"
        " %s::text[], %s::bytea[])",
        [
            ids,
            [i.message_id for i in accepted],
            [i.source for i in accepted],
            [i.user_id for i in accepted],
            [i.received_at for i in accepted],
            codes,
            [i.body for i in accepted],
        ],
    )
    work = [
        (eid, name, i.received_at, i.user_key)
        for eid, i in zip(ids, accepted, strict=True)
        for name in i.destinations
    ]
    if work:
        await conn.execute(
            "INSERT INTO deliveries (event_id, destination, user_key, state, created_at,"
            " window_start, next_attempt_at, updated_at)"
            " SELECT e, d, u, 'pending', t, t, t, t"
            " FROM unnest(%s::bigint[], %s::text[], %s::float8[], %s::text[]) AS w(e, d, t, u)",
            [
                [w[0] for w in work],
                [w[1] for w in work],
                [w[2] for w in work],
                [w[3] for w in work],
            ],
        )
    return counts


async def _link(conn: Conn, ids: tuple[str, ...], code: str, at: float) -> int:
    """Link `ids` to `code`; the newest link wins. Returns how many links it replaced."""
    replaced = 0
    for key in ids:
        # No row back: the link was already this code. `xmax = 0`: a new row, else replaced.
        cursor = await conn.execute(
            "INSERT INTO identity_links (id, code, updated_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET code = excluded.code,"
            " updated_at = excluded.updated_at WHERE identity_links.code <> excluded.code"
            " RETURNING xmax = 0",
            [key, code, at],
        )
        row = await cursor.fetchone()
        replaced += row is not None and not row[0]
    return replaced


async def _lookup_code(conn: Conn, ids: list[str] | tuple[str, ...]) -> str | None:
    if not ids:
        return None
    cursor = await conn.execute(
        "SELECT id, code FROM identity_links WHERE id = ANY(%s::text[])", [list(ids)]
    )
    found = dict(await cursor.fetchall())
    return next((found[key] for key in ids if key in found), None)


async def _bump(conn: Conn, by: dict[str, int]) -> None:
    changes = {name: n for name, n in by.items() if n}
    if changes:
        names = sorted(changes)
        await conn.execute(
            "INSERT INTO counters (shard, name, value)"
            " SELECT pg_backend_pid(), * FROM unnest(%s::text[], %s::bigint[])"
            " ON CONFLICT (shard, name) DO UPDATE SET value = counters.value + excluded.value",
            [names, [changes[name] for name in names]],
        )


# Claims and outcomes need not wait for their WAL flush: if PostgreSQL itself crashes
# before the flush, a claim lost is work pending again, an outcome lost is work whose
# lease ends: sent again, at least once. Ingest (an acknowledgement) keeps the server's
# durability setting.
_NO_FLUSH_WAIT = "SET LOCAL synchronous_commit = off"


_CLAIM = """
WITH due AS (
    SELECT id FROM deliveries d
    WHERE state = 'pending' AND destination = %(destination)s
      AND next_attempt_at <= %(now)s{order}
    ORDER BY next_attempt_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE deliveries d SET state = 'in_flight', lease_until = %(lease)s, updated_at = %(now)s,
    claimed_by = %(owner)s
FROM due, events e
WHERE d.id = due.id AND e.id = d.event_id
RETURNING d.id, d.event_id, d.attempts, d.window_start, d.done,
    e.source, e.message_id, e.body, e.visitor_code
"""
_CLAIM_ANY = _CLAIM.format(order="")
# An earlier delivery of the user that another process holds locked (claiming it now) is
# still seen pending by the subquery (its snapshot), so it holds this one: no two
# processes send one user's events at once.
_CLAIM_PER_USER = _CLAIM.format(
    order=f"\n      AND {user_order_sql('d.user_key = ANY(%(hot)s::text[])')}"
)


async def _claim(
    conn: Conn,
    destination: str,
    limit: int,
    now: float,
    lease: float,
    order: UserOrder | None,
    owner: str | None,
) -> list[ClaimedDelivery]:
    await conn.execute(_NO_FLUSH_WAIT)
    # Work whose lease ran out (a process that died, a record that failed) is due again.
    # SKIP LOCKED: rows another process is claiming right now are its business.
    await conn.execute(
        "UPDATE deliveries SET state = 'pending', lease_until = NULL WHERE id IN ("
        " SELECT id FROM deliveries WHERE state = 'in_flight' AND destination = %s"
        " AND lease_until < %s FOR UPDATE SKIP LOCKED)",
        [destination, now],
    )
    params = {
        "destination": destination,
        "now": now,
        "limit": limit,
        "lease": lease,
        "owner": owner,
    }
    if order is None:
        rows = await _fetch(conn, _CLAIM_ANY, params)
    else:
        rows = await _fetch(conn, _CLAIM_PER_USER, {**params, "hot": sorted(order.hot)})
    return [
        ClaimedDelivery(
            id=row["id"],
            event_id=row["event_id"],
            destination=destination,
            source=row["source"],
            message_id=row["message_id"],
            body=row["body"],
            visitor_code=row["visitor_code"],
            attempts=row["attempts"],
            window_start=row["window_start"],
            lease=lease,
            done=frozenset(orjson.loads(row["done"])) if row["done"] else frozenset(),
        )
        for row in sorted(rows, key=lambda row: row["id"])
    ]


def _first_per_delivery(outcomes: list[DeliveryOutcome]) -> list[DeliveryOutcome]:
    seen: set[int] = set()
    first = []
    for outcome in outcomes:
        if outcome.delivery_id not in seen:
            seen.add(outcome.delivery_id)
            first.append(outcome)
    return first


async def _release_owners(conn: Conn, owners: list[str]) -> int:
    await conn.execute(_NO_FLUSH_WAIT)
    await conn.execute("SET LOCAL lock_timeout = '5s'")  # never stuck behind another's lock
    cursor = await conn.execute(
        "UPDATE deliveries SET state = 'pending', lease_until = NULL"
        " WHERE state = 'in_flight' AND claimed_by = ANY(%s)",
        [owners],
    )
    return cursor.rowcount


async def _reserve_rate(conn: Conn, destination: str, span: float, now: float) -> float:
    await conn.execute(_NO_FLUSH_WAIT)  # lost in a crash: a moment's sends go again
    cursor = await conn.execute(
        "INSERT INTO rate_limits (destination, tat) VALUES (%s, %s)"
        " ON CONFLICT (destination) DO UPDATE"
        " SET tat = greatest(rate_limits.tat, %s) + %s RETURNING tat",
        (destination, now + span, now, span),
    )
    row = await cursor.fetchone()
    assert row is not None
    return float(row[0])


async def _release(conn: Conn, claims: list[ClaimedDelivery]) -> int:
    await conn.execute(_NO_FLUSH_WAIT)
    cursor = await conn.execute(
        "UPDATE deliveries d SET state = 'pending', lease_until = NULL"
        " FROM unnest(%s::bigint[], %s::float8[]) AS v(id, lease)"
        " WHERE d.id = v.id AND d.state = 'in_flight' AND d.lease_until = v.lease",
        [[c.id for c in claims], [c.lease for c in claims]],
    )
    return cursor.rowcount


async def _record(conn: Conn, outcomes: list[DeliveryOutcome]) -> int:
    await conn.execute(_NO_FLUSH_WAIT)
    # As if recorded one by one: a second outcome for one delivery finds it no longer in
    # flight. (One UPDATE ... FROM would apply either of them, once.)
    outcomes = _first_per_delivery(outcomes)
    rows = await _fetch(
        conn,
        """
        UPDATE deliveries d SET state = v.state, attempts = d.attempts + 1, action = v.action,
            done = v.done, last_status = v.status, last_error = v.error,
            last_attempt_at = v.attempted_at, last_latency = v.latency,
            next_attempt_at = COALESCE(v.next_at, d.next_attempt_at),
            updated_at = v.attempted_at, lease_until = NULL
        FROM unnest(%s::bigint[], %s::float8[], %s::text[], %s::text[], %s::text[], %s::int[],
                    %s::text[], %s::float8[], %s::float8[], %s::float8[])
            AS v(id, lease, state, action, done, status, error, attempted_at, latency, next_at)
        WHERE d.id = v.id AND d.state = 'in_flight' AND d.lease_until = v.lease
        RETURNING d.id, d.destination
        """,
        [
            [o.delivery_id for o in outcomes],
            [o.lease for o in outcomes],
            [o.state for o in outcomes],
            [o.actions for o in outcomes],
            [orjson.dumps(sorted(o.done)).decode() if o.done else None for o in outcomes],
            [o.status for o in outcomes],
            [o.error for o in outcomes],
            [o.attempted_at for o in outcomes],
            [o.latency for o in outcomes],
            [o.next_attempt_at for o in outcomes],
        ],
    )
    recorded = {row["id"]: row["destination"] for row in rows}
    mine = [o for o in outcomes if o.delivery_id in recorded]
    attempts = [row for o in mine for row in attempt_rows(o)]
    async with conn.cursor() as cur:
        if attempts:
            await cur.executemany(
                "INSERT INTO attempts (delivery_id, attempted_at, subscription, action, outcome,"
                " status, error, latency, url, headers, body, response)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                attempts,
            )
        filtered = [
            (recorded[o.delivery_id], o.filtered[0], o.filtered[1][:_REASON_LIMIT])
            for o in mine
            if o.filtered is not None
        ]
        if filtered:
            await cur.executemany(
                "INSERT INTO filter_counts (shard, destination, filter, reason, n)"
                " VALUES (pg_backend_pid(), %s, %s, %s, 1)"
                " ON CONFLICT (shard, destination, filter, reason)"
                " DO UPDATE SET n = filter_counts.n + 1",
                sorted(filtered),
            )
    return len(mine)


async def _requeue(conn: Conn, ids: list[int], states: tuple[str, ...], now: float) -> int:
    cursor = await conn.execute(
        """
        UPDATE deliveries SET state = 'pending', attempts = 0, replays = replays + 1,
            done = NULL, window_start = %s, next_attempt_at = %s, updated_at = %s
        WHERE id = ANY(%s::bigint[]) AND state = ANY(%s::text[])
        """,
        [now, now, now, ids, list(states)],
    )
    return cursor.rowcount


async def _prune(conn: Conn, before: float, limit: int) -> int:
    # Each DELETE takes a bounded set of rows, skipping any another process holds:
    # short transactions, no long locks, ingest never waits behind retention.
    cursor = await conn.execute(
        "SELECT id FROM deliveries WHERE state = ANY(%s::text[]) AND updated_at < %s"
        " LIMIT %s FOR UPDATE SKIP LOCKED",
        [list(FINAL_STATES), before, limit],
    )
    ids = [row[0] for row in await cursor.fetchall()]
    removed = 0
    if ids:
        for sql in (
            "DELETE FROM attempts WHERE delivery_id = ANY(%s::bigint[])",
            "DELETE FROM deliveries WHERE id = ANY(%s::bigint[])",
        ):
            removed += (await conn.execute(sql, [ids])).rowcount
    for sql in (
        "DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.received_at < %s"
        " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)"
        " LIMIT %s FOR UPDATE SKIP LOCKED)",
        "DELETE FROM rejected_events WHERE id IN (SELECT id FROM rejected_events"
        " WHERE received_at < %s LIMIT %s FOR UPDATE SKIP LOCKED)",
    ):
        removed += (await conn.execute(sql, [before, limit])).rowcount
    # Dedupe keys older than retention (never shorter than the dedupe window) are done;
    # not counted: they are bookkeeping, like SQLite's index entries.
    await conn.execute(
        "DELETE FROM message_ids WHERE message_id IN (SELECT message_id FROM message_ids"
        " WHERE received_at < %s LIMIT %s FOR UPDATE SKIP LOCKED)",
        [before, limit],
    )
    return removed


async def _fold_counters(conn: Conn) -> None:
    """Fold the counter shards of closed connections into shard 0 (sums unchanged)."""
    row = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [FOLD_LOCK])).fetchone()
    if not row or not row[0]:
        return  # another process is folding
    live = "SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL"
    for table, keys, value in (
        ("delivery_counts", "destination, action, state", "n"),
        ("filter_counts", "destination, filter, reason", "n"),
        ("counters", "name", "value"),
    ):
        await conn.execute(
            f"""
            WITH gone AS (
                DELETE FROM {table} WHERE shard <> 0 AND shard NOT IN ({live})
                RETURNING {keys}, {value}
            )
            INSERT INTO {table} (shard, {keys}, {value})
            SELECT 0, {keys}, sum({value}) FROM gone GROUP BY {keys} ORDER BY {keys}
            ON CONFLICT (shard, {keys}) DO UPDATE SET {value} = {table}.{value} + excluded.{value}
            """
        )


async def _throughput(conn: Conn, since: float, bucket: float) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}

    def slot(index: int) -> dict[str, Any]:
        return rows.setdefault(
            index, {"at": since + index * bucket, "received": 0, "delivered": 0, "failed": 0}
        )

    for row in await _fetch(
        conn,
        "SELECT floor((received_at - %(since)s) / %(bucket)s)::bigint AS i, count(*) AS n"
        " FROM events WHERE received_at >= %(since)s GROUP BY 1",
        {"since": since, "bucket": bucket},
    ):
        slot(row["i"])["received"] += row["n"]
    for row in await _fetch(
        conn,
        "SELECT floor((updated_at - %(since)s) / %(bucket)s)::bigint AS i,"
        " state = 'delivered' AS ok, count(*) AS n FROM deliveries"
        " WHERE state IN ('delivered', 'failed', 'dead') AND updated_at >= %(since)s"
        " GROUP BY 1, 2",
        {"since": since, "bucket": bucket},
    ):
        slot(row["i"])["delivered" if row["ok"] else "failed"] += row["n"]
    return [rows[index] for index in sorted(rows)]


async def _fetch(conn: Conn, sql: str, params: Any = None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


def _is_disconnect(exc: psycopg.Error) -> bool:
    """The database or the connection failed, not the statement (a deadlock is not one)."""
    if isinstance(exc, PoolTimeout):
        return True
    if exc.sqlstate is None:
        return isinstance(exc, psycopg.OperationalError)
    return exc.sqlstate.startswith("08") or exc.sqlstate in _SHUTDOWN_STATES


def _error_class(exc: psycopg.Error) -> str:
    """The DB-API class of an error (IntegrityError, DataError...), as SQLite reports it."""
    for cls in type(exc).__mro__:
        if cls.__module__ == "psycopg" and cls is not psycopg.Error:
            return cls.__name__
    return type(exc).__name__


def _first_line(exc: BaseException, conninfo: str) -> str:
    """An error for people: its first line, without the password if it shows up."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    password = urlsplit(conninfo).password
    return text.replace(password, "***") if password else text
