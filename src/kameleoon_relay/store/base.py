"""The queue's interface: what ingest, delivery, the admin API, replay and retention need.

SQLite implements it; another engine implements the same methods.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from kameleoon_relay.store.models import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryQuery,
    EventRecord,
    IngestResult,
)

ProgressCallback = Callable[[int, int], None]  # (done, total)


class Store(abc.ABC):
    """A durable queue of events and their per-destination deliveries."""

    @abc.abstractmethod
    async def open(self, recover: bool = True) -> None:
        """Create or migrate the schema. With `recover`, deliveries left `in_flight` by a
        crashed process go back to `pending` (only the process that owns the queue should)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def ping(self) -> bool:
        """Whether the database answers now (for /health); never raises."""

    def check_available(self) -> None:  # noqa: B027 - most stores have nothing to check
        """Before serving: raise StoreUnavailable, with a one-line reason, if this process
        cannot serve this store (another relay holds it, the database cannot be reached)."""

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- ingest and delivery ---------------------------------------------------------------

    @abc.abstractmethod
    async def ingest(self, items: list[EventRecord]) -> IngestResult:
        """Store events, their deliveries and identity links in one durable transaction.

        A messageId already seen within the dedupe window is a duplicate and creates
        nothing (no delivery, no link). An item the store cannot take is reported in
        `IngestResult.failed` and the others are stored all the same. When this returns,
        the stored events survive a crash of the process.
        """

    @abc.abstractmethod
    async def claim(
        self, destination: str, limit: int, now: float, lease: float
    ) -> list[ClaimedDelivery]:
        """Move up to `limit` due deliveries of `destination` to `in_flight` for `lease`
        seconds, with their events. Deliveries whose lease ran out are due again."""

    @abc.abstractmethod
    async def record(self, outcomes: list[DeliveryOutcome]) -> int:
        """Store attempts: each delivery's next state and the requests sent. An outcome
        whose lease is no longer the delivery's (it was claimed again) is ignored.
        Returns how many were recorded."""

    @abc.abstractmethod
    async def release(self, claims: list[ClaimedDelivery]) -> int:
        """Give claimed deliveries back, unsent: pending again, no attempt counted (those
        claimed again since are left alone). Returns how many were released."""

    @abc.abstractmethod
    async def linked_code(self, identity_ids: list[str]) -> str | None:
        """The visitor code linked to the first of these ids that has one."""

    @abc.abstractmethod
    async def queued(self) -> int:
        """Deliveries waiting: pending, retrying and in flight (cheap: from the state counts)."""

    @abc.abstractmethod
    async def pending_destinations(self) -> list[str]:
        """Destinations that have pending, retrying or in-flight deliveries."""

    # -- inspection ------------------------------------------------------------------------

    @abc.abstractmethod
    async def stats(self) -> dict[str, Any]:
        """Counts: events received, duplicated, rejected and filtered; deliveries per
        state, in total, per destination and per destination and action."""

    @abc.abstractmethod
    async def list_rejected(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest events kept because they broke the Segment Spec, with the problems."""

    @abc.abstractmethod
    async def list_deliveries(
        self, query: DeliveryQuery | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Delivery summaries, newest first (no bodies); page with `query.before_id`."""

    @abc.abstractmethod
    async def get_delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One delivery with its event and every attempt (requests as they were sent,
        headers masked)."""

    # -- monitoring (dashboard, `status`, metrics) -------------------------------------------

    @abc.abstractmethod
    async def activity(self, since: float) -> list[dict[str, Any]]:
        """Deliveries of the events received since `since`, counted per `destination`,
        `action` ("" until planned; comma-joined when several) and reported `state`: rows
        of {destination, action, state, n}."""

    @abc.abstractmethod
    async def throughput(self, since: float, bucket: float = 60.0) -> list[dict[str, Any]]:
        """Per `bucket` seconds since `since`, oldest first: {at (bucket start), received
        (events), delivered, failed (failed or dead deliveries, by when they ended)}."""

    @abc.abstractmethod
    async def latencies(self, since: float, limit: int = 10_000) -> dict[str, list[float]]:
        """Per destination, the last-attempt latencies (seconds, sorted) of up to `limit`
        deliveries delivered since `since`, newest first chosen."""

    @abc.abstractmethod
    async def queue_depth(self, now: float) -> dict[str, dict[str, float]]:
        """Per destination with unfinished work: {depth (pending, retrying and in-flight
        deliveries), oldest_age (seconds since the oldest of them was queued)}."""

    # -- replay and retention --------------------------------------------------------------

    @abc.abstractmethod
    async def find_deliveries(
        self, query: DeliveryQuery, after_id: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Deliveries matching `query` with id > `after_id`, oldest first, each with
        `id`, `destination`, `source`, `body` and `visitor_code` (for replay)."""

    @abc.abstractmethod
    async def count_deliveries(self, query: DeliveryQuery) -> int:
        """How many deliveries match `query`."""

    @abc.abstractmethod
    async def requeue(self, delivery_ids: list[int], states: tuple[str, ...], now: float) -> int:
        """Put these deliveries (if still in one of `states`) back on the queue with a
        fresh retry window. Returns how many were requeued."""

    @abc.abstractmethod
    async def prune(self, before: float, limit: int) -> int:
        """Delete up to `limit` finished deliveries last updated before `before`, their
        attempts, and events no delivery needs that were received before `before`.
        Pending and in-flight work is never pruned. Returns how many rows went."""
