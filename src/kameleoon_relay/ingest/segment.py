"""The Segment HTTP Tracking API's request shapes, turned into a list of raw events.

Pure functions, no I/O: the route decides the endpoint, this module decides what
the payload means (the event type an endpoint implies, how a batch's shared
`context`, `integrations` and `sentAt` reach its events, and the size limits).
"""

from __future__ import annotations

from typing import Any

import orjson

from kameleoon_relay.web.body import (
    MAX_BATCH_EVENTS,
    MAX_MESSAGE_BYTES,
    PayloadError,
    too_deep_error,
)

# Full names and the one-letter paths analytics.js posts to (`/v1/t`, `/v1/p`, ...).
ENDPOINT_TYPES: dict[str, str] = {
    "track": "track",
    "page": "page",
    "screen": "screen",
    "identify": "identify",
    "group": "group",
    "alias": "alias",
    "t": "track",
    "p": "page",
    "s": "screen",
    "i": "identify",
    "g": "group",
    "a": "alias",
}
BATCH_ENDPOINTS = ("batch", "b", "import")
# Batch-level fields that apply to every event of the batch lacking its own.
SHARED_OBJECTS = ("context", "integrations")


def single_event(payload: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    """The one event of `/v1/track` and friends; the endpoint sets its type."""
    event = {k: v for k, v in payload.items() if k != "writeKey"}
    event["type"] = ENDPOINT_TYPES[endpoint]
    return [event]


def batch_events(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a `/v1/batch` payload, each within 32 KB, with shared fields merged."""
    items = payload.get("batch")
    if not isinstance(items, list):
        raise PayloadError("a batch needs a `batch` array of events")
    if len(items) > MAX_BATCH_EVENTS:
        raise PayloadError(f"too many events: a batch holds at most {MAX_BATCH_EVENTS}")
    shared = {k: payload[k] for k in SHARED_OBJECTS if isinstance(payload.get(k), dict)}
    sent_at = payload.get("sentAt")
    events = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise PayloadError(f"batch[{index}] is not a JSON object")
        if _encoded_size(item) > MAX_MESSAGE_BYTES:
            raise PayloadError(
                f"batch[{index}] is too large: the limit is {MAX_MESSAGE_BYTES // 1024} KB an event"
            )
        event = {k: v for k, v in item.items() if k != "writeKey"}
        for key, value in shared.items():
            own = event.get(key)
            # The event's own fields win; the batch fills what it lacks.
            if own is None:
                event[key] = dict(value)
            elif isinstance(own, dict):
                event[key] = {**value, **own}
        if sent_at is not None and "sentAt" not in event:
            # analytics.js strips each event's sentAt and sends one for the batch;
            # the clock-skew correction needs it on every event.
            event["sentAt"] = sent_at
        events.append(event)
    return events


def _encoded_size(item: dict[str, Any]) -> int:
    try:
        return len(orjson.dumps(item))
    except orjson.JSONEncodeError:  # past the encoder's 254 levels: the body is too deep
        raise too_deep_error() from None


def carried_whole(payload: dict[str, Any], is_batch: bool) -> bool:
    """Whether every object and array in the payload reaches an event as it is.

    Then the events' own depth check (spec.MAX_EVENT_DEPTH) bounds the body's too.
    Not so for what the events drop (writeKey, a single event's type) or may not take
    (a batch's shared objects, when an event has its own): those need the body check.
    """
    if not is_batch:
        return not (_nests(payload.get("writeKey")) or _nests(payload.get("type")))
    if any(_nests(value) for key, value in payload.items() if key != "batch"):
        return False
    return not any(_nests(item.get("writeKey")) for item in payload["batch"])


def _nests(value: Any) -> bool:
    return isinstance(value, dict | list)
