"""Validate a Segment Spec event and fill what Segment's ingest fills."""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any

from kameleoon_relay.ingest.errors import SpecError
from kameleoon_relay.ingest.limits import MAX_EVENT_DEPTH, too_deep
from kameleoon_relay.ingest.timestamps import format_iso8601, parse_utc
from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.objects import as_js_value
from kameleoon_relay.js.values import real_type_of

EVENT_TYPES = ("track", "page", "screen", "identify", "group", "alias")

# Fields that must hold objects when present, per call type.
_OBJECT_FIELDS = ("context", "integrations", "properties", "traits")
_ID_FIELDS = ("userId", "anonymousId", "groupId", "previousId")
_STRING_FIELDS = ("event", "name", "messageId", "category")
# Ids are stored as text, which PostgreSQL cannot hold NUL in: refused on every store
# alike, as a Spec violation of the event (never a 5xx its SDK would retry forever).
_NUL_FREE_FIELDS = (*_ID_FIELDS, "messageId")
NUL_PROBLEM = "must not contain a NUL character (\\u0000)"
_TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt")
_REQUIRED_BY_TYPE = {"track": "event", "group": "groupId", "alias": "previousId"}


def validate_event(event: Any) -> list[str]:
    """Every Spec violation of `event`, each naming its field (empty when valid)."""
    if not isinstance(event, dict):
        return [f"event: must be a JSON object, got {real_type_of(event)}"]
    deep = too_deep(event)
    return [deep, *_field_problems(event)] if deep is not None else _field_problems(event)


def _field_problems(event: dict[str, Any]) -> list[str]:
    """validate_event's problems but the depth (checked by the caller)."""
    problems: list[str] = []
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        allowed = ", ".join(EVENT_TYPES)
        problems.append(f"type: must be one of {allowed}, got {kind!r}")
    for field in _OBJECT_FIELDS:
        if field in event and event[field] is not None and not isinstance(event[field], dict):
            problems.append(f"{field}: must be an object, got {real_type_of(event[field])}")
    for field in _ID_FIELDS:
        value = event.get(field)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, str | int | float)
        ):
            problems.append(f"{field}: must be a string, got {real_type_of(value)}")
    for field in _STRING_FIELDS:
        value = event.get(field)
        if value is not None and not isinstance(value, str):
            problems.append(f"{field}: must be a string, got {real_type_of(value)}")
    for field in _NUL_FREE_FIELDS:
        value = event.get(field)
        if isinstance(value, str) and "\x00" in value:
            problems.append(f"{field}: {NUL_PROBLEM}")
    for field in _TIME_FIELDS:
        value = event.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(
                f"{field}: must be an ISO-8601 date-time string, got {real_type_of(value)}"
            )
            continue
        try:
            parse_utc(value)
        except ValueError:
            problems.append(f"{field}: {value!r} is not an ISO-8601 date-time")
        except OverflowError:
            problems.append(f"{field}: {value!r} is outside years 1 to 9999 in UTC")
    required = _REQUIRED_BY_TYPE.get(kind) if isinstance(kind, str) else None
    if required and event.get(required) in (None, ""):
        problems.append(f"{required}: required for {kind} calls")
    if _blank(event.get("userId")) and _blank(event.get("anonymousId")):
        problems.append("userId or anonymousId: one of them is required")
    return problems


def _blank(value: Any) -> bool:
    return value is None or value == ""


def normalize_event(raw: Any, received_at: datetime | None = None) -> dict[str, Any]:
    """Validate, then fill messageId, receivedAt and the skew-corrected timestamp.

    Segment corrects device clocks: timestamp = receivedAt - (sentAt - originalTimestamp),
    keeping the device's own value as originalTimestamp.
    """
    event = _as_js_event(raw)
    received = (received_at or datetime.now(UTC)).astimezone(UTC)
    if not event.get("messageId"):
        event["messageId"] = f"api-{uuid.uuid4()}"
    event["receivedAt"] = _received_text(received)
    original = event.get("timestamp") or event.get("originalTimestamp")
    if original and event.get("sentAt"):
        event["originalTimestamp"] = original
        event["timestamp"] = _skew_corrected(received, event["sentAt"], original)
    elif original:
        event["timestamp"] = original
    else:
        event["timestamp"] = event["receivedAt"]
    return event


def _as_js_event(raw: Any) -> dict[str, Any]:
    """The valid event in JavaScript terms, a new top level (the caller's stays as it is).

    One walk converts and checks the depth; validate_event's own walk, which names the
    field, runs only for an event too deep (or not a plain dict).
    """
    if type(raw) is dict:
        try:
            event = as_js_value(raw, MAX_EVENT_DEPTH)
        except NestingTooDeepError:
            pass
        else:
            if problems := _field_problems(raw):
                raise SpecError(problems)
            return raw.copy() if event is raw else event
    problems = validate_event(raw)
    if problems:
        raise SpecError(problems)
    try:
        event = as_js_value(raw)
    except NestingTooDeepError as exc:  # validate_event's limit is lower; kept as a backstop
        raise SpecError([f"event: {exc}"]) from None
    return raw.copy() if event is raw else event


@functools.lru_cache(maxsize=16)
def _received_text(received: datetime) -> str:
    """A request's events share one receivedAt: formatted once, not once per event."""
    return format_iso8601(received)


def _skew_corrected(received: datetime, sent_at: str, original: str) -> str:
    """receivedAt - (sentAt - timestamp), refused when it leaves years 1 to 9999."""
    try:
        return format_iso8601(received - (parse_utc(sent_at) - parse_utc(original)))
    except OverflowError:
        raise SpecError(
            [
                f"timestamp: correcting {original!r} for the clock skew of sentAt "
                f"{sent_at!r} leaves years 1 to 9999"
            ]
        ) from None
