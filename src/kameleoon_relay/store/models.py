"""The records that go in and out of a store: plain data, no I/O, nothing of the pipeline.

The queue holds events (their exact bytes) and, per event, one delivery for each
destination its source feeds: the unit of work the delivery workers claim. What a
delivery sends is decided when it is attempted, with the configuration in force then;
each request sent is kept as an attempt (body bytes, headers already masked).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Life of a delivery: pending -> in_flight -> delivered | filtered | failed | dead,
# or back to pending (retry). "retrying" is not stored: it is a pending delivery
# that has been attempted before.
STATES = ("pending", "in_flight", "delivered", "filtered", "failed", "dead")
FINAL_STATES = ("delivered", "filtered", "failed", "dead")
REPORTED_STATES = ("pending", "retrying", "in_flight", "delivered", "filtered", "failed", "dead")
# What `replay --state` accepts, and the stored states each choice selects.
REPLAY_STATES: dict[str, tuple[str, ...]] = {
    "dead": ("dead",),
    "failed": ("failed",),
    "delivered": ("delivered",),
    "filtered": ("filtered",),
    "all": FINAL_STATES,
}
NextState = Literal["delivered", "filtered", "pending", "failed", "dead"]


# Records built once or more per event (ingest, claim, outcome) are slotted, not frozen:
# a frozen dataclass costs three times as much to build. They are read-only all the same.


@dataclass(slots=True)
class EventRecord:
    """One event to store, as ingest prepared it."""

    message_id: str
    source: str
    body: bytes  # the normalized event, exactly as it will be read back
    received_at: float
    user_id: str | None = None
    # Whose events keep their order (userId, else anonymousId): kept on each delivery.
    user_key: str | None = None
    destinations: tuple[str, ...] = ()  # one delivery each
    # Visitor-code linking, decided by ingest: the ids ("userId:u1") this event names,
    # the code an identifier event links them to, and whether to look a code up.
    identity_ids: tuple[str, ...] = ()
    link_code: str | None = None
    resolve_code: bool = False
    # Set for an event that broke the Segment Spec: kept with why, never delivered.
    problems: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class UserOrder:
    """A claim in per-user order: a user's delivery waits while an earlier one of the same
    user (to the same destination) is pending, retrying or in flight; users in `hot`
    (the hot-user escape) and deliveries without a user key never wait."""

    hot: frozenset[str] = frozenset()


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    rejected: int = 0
    # Index (in the items given) -> why that one item could not be stored.
    failed: dict[int, str] = field(default_factory=dict)
    # Source -> how many of its items were duplicates (the Sources page counts them).
    duplicate_sources: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ClaimedDelivery:
    """A claimed delivery with its event: what a worker needs to plan and send it."""

    id: int
    event_id: int
    destination: str
    source: str
    message_id: str
    body: bytes
    visitor_code: str | None  # the linked code resolved at ingest, if any
    attempts: int
    window_start: float
    lease: float  # the claim's lease end; the outcome is recorded only under it
    done: frozenset[str] = frozenset()  # subscriptions already delivered this round


@dataclass(slots=True)
class SentRequest:
    """One request of an attempt. `headers` are masked and `error`/`response` scrubbed
    before they get here: the store writes them as given."""

    subscription: str | None
    action: str | None
    outcome: str  # delivered | retry | failed | dead | filtered
    url: str | None = None
    headers: dict[str, str] | None = None
    body: bytes | None = None
    status: int | None = None
    error: str | None = None
    response: str | None = None
    latency: float | None = None


@dataclass(slots=True)
class DeliveryOutcome:
    """What one attempt did to a delivery; `state` is where it goes next (`pending`
    means retry at `next_attempt_at`)."""

    delivery_id: int
    lease: float
    state: NextState
    attempted_at: float
    actions: str = ""  # the actions planned, for the per-action counts
    requests: tuple[SentRequest, ...] = ()
    done: frozenset[str] = frozenset()
    status: int | None = None
    error: str | None = None
    next_attempt_at: float | None = None
    latency: float | None = None
    filtered: tuple[str, str] | None = None  # (filter, reason) when the event was dropped


@dataclass(frozen=True)
class DeliveryQuery:
    """Which deliveries: the filters shared by the delivery log and replay."""

    states: tuple[str, ...] = ()
    destination: str | None = None
    action: str | None = None
    message_id: str | None = None
    user_id: str | None = None
    event: str | None = None  # the event's name: `event` (track), else `name` (page, screen)
    since: float | None = None  # event received at or after
    until: float | None = None  # event received before
    before_id: int | None = None  # paging: deliveries with a smaller id
