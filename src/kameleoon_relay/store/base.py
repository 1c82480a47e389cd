"""The queue's interface: what ingest, delivery, the admin API and replay need from storage.

SQLite implements it now; PostgreSQL will implement the same methods.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from kameleoon_relay.store.models import AttemptOutcome, DeliveryRecord, IngestItem, IngestResult

ProgressCallback = Callable[[int, int], None]  # (done, total)


class Store(abc.ABC):
    """A durable queue of events and their per-subscription deliveries."""

    @abc.abstractmethod
    async def open(self, recover: bool = True) -> None:
        """Create the schema if needed. With `recover`, deliveries left `in_flight` by a
        crashed process go back to `pending` (only the process that owns the queue should)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def ingest(self, items: list[IngestItem]) -> IngestResult:
        """Store events and their planned deliveries in one durable transaction.

        A messageId already seen within the dedupe window is counted as a duplicate and
        creates nothing. Planned entries carrying an error are stored `failed` at once.
        When this returns, the events survive a crash of the process.
        """

    @abc.abstractmethod
    async def claim(self, destination: str, limit: int, now: float) -> list[DeliveryRecord]:
        """Move up to `limit` due pending deliveries of `destination` to `in_flight`."""

    @abc.abstractmethod
    async def record_attempt(self, delivery_id: int, outcome: AttemptOutcome) -> None:
        """Store an attempt's result: the next state, status, error and response sample."""

    @abc.abstractmethod
    async def stats(self) -> dict[str, Any]:
        """Counts: events received and duplicated; deliveries per state, in total, per
        destination and per destination and action."""

    @abc.abstractmethod
    async def list_rejected(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest events kept because they broke the Segment Spec, with the problems."""

    @abc.abstractmethod
    async def load_identities(self) -> tuple[dict[str, str], int]:
        """The visitor-code links (id -> code) and how many links were replaced so far."""

    @abc.abstractmethod
    async def pending_destinations(self) -> list[str]:
        """Destinations that have pending (or retrying) deliveries."""

    @abc.abstractmethod
    async def list_deliveries(
        self,
        state: str | None = None,
        limit: int = 50,
        destination: str | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Delivery summaries, most recently updated first (no request bodies)."""

    @abc.abstractmethod
    async def get_delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One delivery with its event, its request (secrets masked) and last response."""

    @abc.abstractmethod
    async def replay(
        self,
        state: str = "dead",
        since: float | None = None,
        destination: str | None = None,
        dry_run: bool = False,
        now: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> int:
        """Put `state` deliveries (of events received at or after `since`) back on the
        queue with a fresh retry window. Returns how many were (or would be) requeued."""
