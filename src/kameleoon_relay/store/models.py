"""The records that go in and out of a store: plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from kameleoon_relay.pipeline import PlannedDelivery

# Life of a delivery: pending -> in_flight -> delivered | pending (retry) | failed | dead.
# "retrying" is not stored: it is a pending delivery that has been attempted before.
STATES = ("pending", "in_flight", "delivered", "failed", "dead")
REPLAYABLE_STATES = ("dead", "failed")
FinalState = Literal["delivered", "pending", "failed", "dead"]


@dataclass(frozen=True)
class IngestItem:
    """One accepted event and the deliveries the pipeline planned for it."""

    message_id: str
    source: str
    event: dict[str, Any]
    received_at: float
    planned: list[PlannedDelivery] = field(default_factory=list)
    # Visitor-code links made while planning this event, stored with it.
    links: list[tuple[str, str]] = field(default_factory=list)
    link_conflicts: int = 0
    # Set for an event that broke the Segment Spec: kept with why, never delivered.
    problems: list[str] | None = None


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class DeliveryRecord:
    """A claimed delivery: everything the dispatcher needs to send it and judge the answer."""

    id: int
    event_id: int
    destination: str
    subscription: str
    action: str
    request: dict[str, Any]
    attempts: int
    window_start: float


@dataclass(frozen=True)
class AttemptOutcome:
    """What one attempt did to a delivery.

    `state` is where the delivery goes next: `pending` means retry at `next_attempt_at`.
    `error` and `response_sample` must already be free of secrets.
    """

    state: FinalState
    attempted_at: float
    status: int | None = None
    error: str | None = None
    response_sample: str | None = None
    next_attempt_at: float | None = None
    latency: float | None = None
