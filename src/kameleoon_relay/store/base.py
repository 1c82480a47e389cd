"""The queue's interface: what ingest, delivery, the admin API, replay and retention need.

Each dialect (sqlite.py, postgres.py) implements what must differ: the lifecycle,
ingest, claims, records and retention, and `_fetch`, one read-only statement. The
read side (inspection, monitoring, replay's search) is written once here, over
`_fetch`, in SQL both engines speak.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from kameleoon_relay.store.models import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryQuery,
    EventRecord,
    IngestResult,
    UserOrder,
)
from kameleoon_relay.store.queries import (
    FINAL_STATES_SQL,
    OPEN_STATES_SQL,
    REPORTED_STATE_SQL,
    SUMMARY_COLUMNS,
    Dialect,
    reported,
    shown_request,
    stats_document,
    where_clause,
)

# Unfinished work, as the state counts keep it.
_WAITING_SQL = "state IN ('pending', 'retrying', 'in_flight')"

ProgressCallback = Callable[[int, int], None]  # (done, total)


class Store(abc.ABC):
    """A durable queue of events and their per-destination deliveries."""

    dialect: Dialect  # how this engine marks parameters and searches lists
    # Who this process's claims are held by (owner.py); set before claiming. None: claims
    # carry no owner, and only their lease gives them back.
    owner: str | None = None

    @abc.abstractmethod
    async def _fetch(
        self, sql: str, params: Sequence[Any] = (), *, urgent: bool = False
    ) -> list[dict[str, Any]]:
        """The rows of one read-only statement (marked with `self.dialect.mark`), as dicts.
        `urgent` reads go before queued writes where the engine orders its work."""

    # What each dialect writes its own way; the public methods above them guard the input.

    @abc.abstractmethod
    async def _ingest_rows(self, items: list[EventRecord]) -> IngestResult:
        """Store `items` (not empty) as `ingest` says."""

    @abc.abstractmethod
    async def _claim_rows(
        self, destination: str, limit: int, now: float, until: float, order: UserOrder | None
    ) -> list[ClaimedDelivery]:
        """Claim up to `limit` (> 0) due deliveries, leased until `until`, in `order`
        (None: any order)."""

    @abc.abstractmethod
    async def _record_rows(self, outcomes: list[DeliveryOutcome]) -> int:
        """Store `outcomes` (not empty) as `record` says."""

    @abc.abstractmethod
    async def _release_rows(self, claims: list[ClaimedDelivery]) -> int:
        """Give `claims` (not empty) back as `release` says."""

    @abc.abstractmethod
    async def _release_owner_rows(self, owners: list[str]) -> int:
        """Give back what `owners` (not empty) hold, as `release_owner` says."""

    @abc.abstractmethod
    async def _requeue_rows(
        self, delivery_ids: list[int], states: tuple[str, ...], now: float
    ) -> int:
        """Requeue `delivery_ids` (not empty) as `requeue` says."""

    @abc.abstractmethod
    async def open(self, recover: bool = True) -> None:
        """Create or migrate the schema. With `recover`, deliveries left `in_flight` by a
        crashed process go back to `pending` (only the process that owns the queue should)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> bool:
        """Whether the database answers now (for /health); never raises."""

    async def disk_full(self) -> bool:
        """Whether writes fail now for want of disk space (for /health); never raises."""
        return False

    def check_available(self) -> None:  # noqa: B027 - most stores have nothing to check
        """Before serving: raise StoreUnavailable, with a one-line reason, if this process
        cannot serve this store (another relay holds it, the database cannot be reached)."""

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- ingest and delivery ---------------------------------------------------------------

    async def ingest(self, items: list[EventRecord]) -> IngestResult:
        """Store events, their deliveries and identity links in one durable transaction.

        A messageId already seen within the dedupe window is a duplicate and creates
        nothing (no delivery, no link). An item the store cannot take is reported in
        `IngestResult.failed` and the others are stored all the same. When this returns,
        the stored events survive a crash of the process.
        """
        if not items:
            return IngestResult(0, 0)
        return await self._ingest_rows(items)

    async def claim(
        self,
        destination: str,
        limit: int,
        now: float,
        lease: float,
        order: UserOrder | None = None,
    ) -> list[ClaimedDelivery]:
        """Move up to `limit` due deliveries of `destination` to `in_flight` for `lease`
        seconds, with their events. Deliveries whose lease ran out are due again.

        With `order` (per-user order), a delivery is not claimed while an earlier one
        (smaller id) of the same user key and destination is pending or in flight, unless
        its user is one of `order.hot`. Deliveries without a user key are never held."""
        if limit <= 0:
            return []
        return await self._claim_rows(destination, limit, now, now + lease, order)

    async def hot_users(self, destination: str, backlog: int) -> list[str]:
        """The users with more than `backlog` deliveries to `destination` pending, retrying
        or in flight: the hot-user escape. Reads the open deliveries' index only."""
        mark = self.dialect.mark
        rows = await self._fetch(
            f"SELECT user_key FROM deliveries WHERE destination = {mark} AND {OPEN_STATES_SQL}"
            f" AND user_key IS NOT NULL GROUP BY user_key HAVING count(*) > {mark}",
            [destination, backlog],
        )
        return [row["user_key"] for row in rows]

    async def record(self, outcomes: list[DeliveryOutcome]) -> int:
        """Store attempts: each delivery's next state and the requests sent. An outcome
        whose lease is no longer the delivery's (it was claimed again) is ignored.
        Returns how many were recorded."""
        if not outcomes:
            return 0
        return await self._record_rows(outcomes)

    async def release(self, claims: list[ClaimedDelivery]) -> int:
        """Give claimed deliveries back, unsent: pending again, no attempt counted (those
        claimed again since are left alone). Returns how many were released."""
        if not claims:
            return 0
        return await self._release_rows(claims)

    async def release_owner(self, *owners: str) -> int:
        """Give back, unsent, every delivery still in flight under one of `owners` (processes
        known to have died): pending again, no attempt counted. Returns how many."""
        if not owners:
            return 0
        return await self._release_owner_rows(list(owners))

    async def reserve_rate(
        self, destination: str, count: int, interval: float, now: float
    ) -> float:
        """Reserve `count` sends to `destination`, one every `interval` seconds, from the
        limit that every process and relay on this database shares (GCRA: the row keeps
        when the next send may go). Returns when the first of them may go; the others
        follow `interval` apart."""
        if count <= 0:
            return now
        return await self._reserve_rate_row(destination, count * interval, now) - (count * interval)

    @abc.abstractmethod
    async def _reserve_rate_row(self, destination: str, span: float, now: float) -> float:
        """Move the destination's next-send time to max(it, now) + span; the new value."""

    @abc.abstractmethod
    async def linked_code(self, identity_ids: list[str]) -> str | None:
        """The visitor code linked to the first of these ids that has one."""

    async def queued(self) -> int:
        """Deliveries waiting: pending, retrying and in flight (cheap: from the state counts)."""
        rows = await self._fetch(
            f"SELECT CAST(coalesce(sum(n), 0) AS BIGINT) AS n FROM delivery_counts"
            f" WHERE {_WAITING_SQL}",
            urgent=True,  # ingest's back-pressure asks: it must not wait behind writes
        )
        return int(rows[0]["n"])

    async def pending_destinations(self) -> list[str]:
        """Destinations that have pending, retrying or in-flight deliveries."""
        rows = await self._fetch(
            f"SELECT destination FROM delivery_counts WHERE {_WAITING_SQL}"
            " GROUP BY destination HAVING sum(n) > 0 ORDER BY destination"
        )
        return [row["destination"] for row in rows]

    # -- inspection ------------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        """Counts: events received, duplicated, rejected and filtered; deliveries per
        state, in total, per destination and per destination and action."""
        # The counts may be kept as several rows a key (PostgreSQL appends deltas): summed.
        counters = {
            row["name"]: int(row["value"])
            for row in await self._fetch(
                "SELECT name, CAST(sum(value) AS BIGINT) AS value FROM counters GROUP BY name"
            )
        }
        deliveries = await self._fetch(
            "SELECT destination, action, state, CAST(sum(n) AS BIGINT) AS n FROM delivery_counts"
            " GROUP BY destination, action, state HAVING sum(n) <> 0 ORDER BY destination, action"
        )
        filtered = await self._fetch(
            "SELECT destination, filter, reason, CAST(sum(n) AS BIGINT) AS n FROM filter_counts"
            " GROUP BY destination, filter, reason ORDER BY destination, filter"
        )
        links = (await self._fetch("SELECT count(*) AS n FROM identity_links"))[0]["n"]
        return stats_document(
            counters,
            [(r["destination"], r["action"], r["state"], r["n"]) for r in deliveries],
            [(r["destination"], r["filter"], r["reason"], r["n"]) for r in filtered],
            int(links),
        )

    async def list_rejected(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest events kept because they broke the Segment Spec, with the problems."""
        rows = await self._fetch(
            "SELECT id, message_id, source, received_at, body AS event, problems"
            f" FROM rejected_events ORDER BY id DESC LIMIT {self.dialect.mark}",
            [limit],
        )
        for row in rows:
            row["event"] = orjson.loads(row["event"])
            row["problems"] = orjson.loads(row["problems"])
        return rows

    async def list_deliveries(
        self, query: DeliveryQuery | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Delivery summaries with the event's name, newest first (no bodies); page with
        `query.before_id`."""
        where, params = where_clause(query or DeliveryQuery(), self.dialect)
        rows = await self._fetch(
            f"SELECT {SUMMARY_COLUMNS}, {self.dialect.event_name} AS event_name"
            " FROM deliveries d JOIN events e ON e.id = d.event_id"
            f"{where} ORDER BY d.id DESC LIMIT {self.dialect.mark}",
            [*params, limit],
        )
        return [reported(row) for row in rows]

    async def get_delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One delivery with its event and every attempt (requests as they were sent,
        headers masked)."""
        mark = self.dialect.mark
        rows = await self._fetch(
            f"SELECT {SUMMARY_COLUMNS}, e.body AS event, e.visitor_code FROM deliveries d"
            f" JOIN events e ON e.id = d.event_id WHERE d.id = {mark}",
            [delivery_id],
        )
        if not rows:
            return None
        row = reported(rows[0])
        row["event"] = orjson.loads(row["event"])
        history = await self._fetch(
            "SELECT attempted_at, subscription, action, outcome, status, error, latency, url,"
            f" headers, body, response FROM attempts WHERE delivery_id = {mark} ORDER BY id",
            [delivery_id],
        )
        for attempt in history:
            attempt["request"] = shown_request(
                attempt.pop("url"), attempt.pop("headers"), attempt.pop("body")
            )
        row["history"] = history
        sent = [a for a in history if a["request"] is not None]
        row["request"] = sent[-1]["request"] if sent else None
        row["response"] = history[-1]["response"] if history else None
        return row

    # -- monitoring (dashboard, `status`, metrics) -------------------------------------------

    async def activity(self, since: float) -> list[dict[str, Any]]:
        """Deliveries of the events received since `since`, counted per `destination`,
        `action` ("" until planned; comma-joined when several) and reported `state`: rows
        of {destination, action, state, n}."""
        # Through events.received_at (indexed): the window's events, then their deliveries.
        return await self._fetch(
            f"SELECT d.destination, d.action, {REPORTED_STATE_SQL} AS state, count(*) AS n"
            " FROM events e JOIN deliveries d ON d.event_id = e.id"
            f" WHERE e.received_at >= {self.dialect.mark}"
            " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            [since],
        )

    async def source_volume(self, since: float, bucket: float = 60.0) -> list[dict[str, Any]]:
        """Per source and `bucket` seconds since `since` (with events), oldest first:
        {source, at (bucket start), accepted (events stored), refused (kept apart for
        breaking the Segment Spec)}."""
        found: dict[tuple[str, int], dict[str, Any]] = {}
        index, mark = self.dialect.bucket_index, self.dialect.mark
        for table, column in (("events", "accepted"), ("rejected_events", "refused")):
            rows = await self._fetch(
                f"SELECT source, {index} AS i, count(*) AS n FROM {table}"
                f" WHERE received_at >= {mark} GROUP BY 1, 2",
                [since, bucket, since],
            )
            for row in rows:
                key = (row["source"], int(row["i"]))
                entry = found.setdefault(
                    key, {"source": key[0], "at": since + key[1] * bucket, "accepted": 0,
                          "refused": 0}
                )  # fmt: skip
                entry[column] += int(row["n"])
        return [found[key] for key in sorted(found, key=lambda k: (k[1], k[0]))]

    async def recent_events(
        self, after_id: int = 0, refused_after_id: int = 0, limit: int = 50
    ) -> dict[str, list[dict[str, Any]]]:
        """The newest events stored (`id` > `after_id`) and refused (`id` >
        `refused_after_id`), newest first, with their bodies: the Sources page's stream."""
        mark = self.dialect.mark
        accepted = await self._fetch(
            "SELECT id, message_id, source, user_id, received_at, body AS event FROM events"
            f" WHERE id > {mark} ORDER BY id DESC LIMIT {mark}",
            [after_id, limit],
        )
        refused = await self._fetch(
            "SELECT id, message_id, source, received_at, body AS event, problems"
            f" FROM rejected_events WHERE id > {mark} ORDER BY id DESC LIMIT {mark}",
            [refused_after_id, limit],
        )
        return {"accepted": _with_bodies(accepted), "refused": _with_bodies(refused)}

    async def find_events(
        self, text: str, since: float, source: str | None = None, limit: int = 50
    ) -> dict[str, list[dict[str, Any]]]:
        """Events received since `since` whose messageId, userId or name is `text`, stored
        and refused (by messageId), newest first, with their bodies."""
        mark = self.dialect.mark
        where = f" AND e.source = {mark}" if source else ""
        extra = [source] if source else []
        accepted = await self._fetch(
            "SELECT e.id, e.message_id, e.source, e.user_id, e.received_at, e.body AS event"
            f" FROM events e WHERE e.received_at >= {mark} AND (e.message_id = {mark}"
            f" OR e.user_id = {mark} OR {self.dialect.event_name} = {mark}){where}"
            f" ORDER BY e.id DESC LIMIT {mark}",
            [since, text, text, text, *extra, limit],
        )
        refused = await self._fetch(
            "SELECT id, message_id, source, received_at, body AS event, problems"
            f" FROM rejected_events WHERE received_at >= {mark} AND message_id = {mark}"
            f"{where.replace('e.source', 'source')} ORDER BY id DESC LIMIT {mark}",
            [since, text, *extra, limit],
        )
        return {"accepted": _with_bodies(accepted), "refused": _with_bodies(refused)}

    async def error_reasons(self, since: float, limit: int = 10) -> list[dict[str, Any]]:
        """The most frequent last errors of deliveries failed, dead or retrying (their last
        attempt since `since`), most frequent first: {destination, reason, n}."""
        mark = self.dialect.mark
        rows = [
            *await self._fetch(
                # The final-states term matches SQLite's partial index deliveries_final.
                f"SELECT destination, last_error AS reason, count(*) AS n FROM deliveries"
                f" WHERE {FINAL_STATES_SQL} AND state IN ('failed', 'dead')"
                f" AND updated_at >= {mark} AND last_error IS NOT NULL GROUP BY 1, 2",
                [since],
            ),
            *await self._fetch(
                "SELECT destination, last_error AS reason, count(*) AS n FROM deliveries"
                f" WHERE state = 'pending' AND attempts > 0 AND updated_at >= {mark}"
                " AND last_error IS NOT NULL GROUP BY 1, 2",
                [since],
            ),
        ]
        merged: dict[tuple[str, str], int] = {}
        for row in rows:
            key = (row["destination"], row["reason"])
            merged[key] = merged.get(key, 0) + int(row["n"])
        top = sorted(merged.items(), key=lambda item: (-item[1], item[0]))[: max(0, limit)]
        return [{"destination": d, "reason": r, "n": n} for (d, r), n in top]

    @abc.abstractmethod
    async def throughput(self, since: float, bucket: float = 60.0) -> list[dict[str, Any]]:
        """Per `bucket` seconds since `since`, oldest first: {at (bucket start), received
        (events), delivered, failed (failed or dead deliveries, by when they ended)}."""

    async def latencies(self, since: float, limit: int = 10_000) -> dict[str, list[float]]:
        """Per destination, the last-attempt latencies (seconds, sorted) of up to `limit`
        deliveries delivered since `since`, newest first chosen."""
        mark = self.dialect.mark
        found: dict[str, list[float]] = {}
        for row in await self._fetch(
            # The final-states term matches SQLite's partial index deliveries_final.
            "SELECT destination, last_latency FROM deliveries"
            f" WHERE {FINAL_STATES_SQL} AND state = 'delivered' AND updated_at >= {mark}"
            f" AND last_latency IS NOT NULL ORDER BY updated_at DESC LIMIT {mark}",
            [since, limit],
        ):
            found.setdefault(row["destination"], []).append(row["last_latency"])
        return {name: sorted(values) for name, values in found.items()}

    async def queue_depth(self, now: float) -> dict[str, dict[str, float]]:
        """Per destination with unfinished work: {depth (pending, retrying and in-flight
        deliveries), oldest_age (seconds since the oldest of them was queued)}."""
        rows = await self._fetch(
            "SELECT destination, count(*) AS depth, min(created_at) AS oldest FROM deliveries"
            " WHERE state IN ('pending', 'in_flight') GROUP BY destination ORDER BY destination"
        )
        return {
            row["destination"]: {"depth": row["depth"], "oldest_age": max(0.0, now - row["oldest"])}
            for row in rows
        }

    # -- replay and retention --------------------------------------------------------------

    async def find_deliveries(
        self, query: DeliveryQuery, after_id: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Deliveries matching `query` with id > `after_id`, oldest first, each with
        `id`, `destination`, `source`, `body` and `visitor_code` (for replay)."""
        where, params = where_clause(query, self.dialect)
        mark = self.dialect.mark
        return await self._fetch(
            "SELECT d.id, d.destination, d.state, e.source, e.body, e.visitor_code"
            f" FROM deliveries d JOIN events e ON e.id = d.event_id{where} AND d.id > {mark}"
            f" ORDER BY d.id LIMIT {mark}",
            [*params, after_id, limit],
        )

    async def count_deliveries(self, query: DeliveryQuery) -> int:
        """How many deliveries match `query`."""
        where, params = where_clause(query, self.dialect)
        rows = await self._fetch(
            f"SELECT count(*) AS n FROM deliveries d JOIN events e ON e.id = d.event_id{where}",
            params,
        )
        return int(rows[0]["n"])

    async def requeue(self, delivery_ids: list[int], states: tuple[str, ...], now: float) -> int:
        """Put these deliveries (if still in one of `states`) back on the queue with a
        fresh retry window. Returns how many were requeued."""
        if not delivery_ids:
            return 0
        return await self._requeue_rows(delivery_ids, states, now)

    @abc.abstractmethod
    async def prune(self, before: float, limit: int) -> int:
        """Delete up to `limit` finished deliveries last updated before `before`, their
        attempts, and events no delivery needs that were received before `before`.
        Pending and in-flight work is never pruned. Returns how many rows went."""


def _with_bodies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bodies (and a refusal's problems) as JSON values."""
    for row in rows:
        row["event"] = orjson.loads(row["event"])
        if "problems" in row:
            row["problems"] = orjson.loads(row["problems"])
    return rows
