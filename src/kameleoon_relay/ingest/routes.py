"""The Segment HTTP Tracking API: `/v1/track` ... `/v1/batch`, and analytics.js's short paths.

A request is answered 200 only after all its events are durably stored. A single
event that breaks the Segment Spec is a 400. In a batch, such events are stored
apart with their problems (GET /api/rejected) and listed in the 200 answer, so
that one bad event never costs the SDK the whole batch.

What is stored is the event (exact bytes), one delivery per destination its source
feeds, and its visitor-code linking intent: planning waits for delivery time.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kameleoon_relay.ingest import SpecError, normalize_event
from kameleoon_relay.ingest.auth import basic_user
from kameleoon_relay.ingest.cors import cors_headers, preflight
from kameleoon_relay.ingest.metrics import INGEST_EVENTS, INGEST_REQUESTS
from kameleoon_relay.ingest.normalize import NUL_PROBLEM
from kameleoon_relay.ingest.segment import (
    BATCH_ENDPOINTS,
    ENDPOINT_TYPES,
    batch_events,
    carried_whole,
    single_event,
)
from kameleoon_relay.ingest.source_log import source_log_of
from kameleoon_relay.pipeline.identity import CODE_KEYS, NO_LINKING, linking_of
from kameleoon_relay.store import EventRecord
from kameleoon_relay.store.backlog import RETRY_AFTER_SECONDS
from kameleoon_relay.store.errors import StoreFull
from kameleoon_relay.web.body import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    PayloadError,
    check_depth,
    parse_object,
    read_body,
)
from kameleoon_relay.web.responses import JSONResponse, error
from kameleoon_relay.web.state import RelayState, relay_of

log = logging.getLogger("kameleoon_relay.ingest")


def ingest_paths() -> dict[str, str]:
    """Every ingest path and the endpoint it serves."""
    paths = {f"/v1/{name}": name for name in (*ENDPOINT_TYPES, *BATCH_ENDPOINTS)}
    paths["/b"] = "b"  # analytics.js's batching path when apiHost has no /v1
    return paths


def routes() -> list[Route]:
    return [
        Route(path, _endpoint(name), methods=["POST", "OPTIONS"], name=f"ingest:{path}")
        for path, name in ingest_paths().items()
    ]


def _endpoint(name: str) -> Any:
    kind = "batch" if name in BATCH_ENDPOINTS else ENDPOINT_TYPES[name]

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return preflight(request)
        response = await _ingest(request, name)
        response.headers.update(cors_headers(request))
        _requests_counter(kind, response.status_code).inc()
        return response

    return endpoint


@functools.cache  # a few kinds times a few statuses; labels() costs a microsecond a call
def _requests_counter(kind: str, status: int) -> Any:
    return INGEST_REQUESTS.labels(kind, str(status))


_REJECTED = INGEST_EVENTS.labels("rejected")


async def _ingest(request: Request, name: str) -> Response:
    relay = relay_of(request)
    received_at = datetime.now(UTC)
    is_batch = name in BATCH_ENDPOINTS
    header_key = basic_user(request)
    # A key in the header is checked before the body is read.
    source = relay.source_for(header_key) if header_key else None
    if header_key and source is None:
        return error(401, "unknown write key")
    if await relay.backlog.full():
        return error(
            503,
            "the delivery queue is full; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    try:
        body = await read_body(request, MAX_BATCH_BYTES if is_batch else MAX_MESSAGE_BYTES)
        # The body's depth limit is answered before anything else, as if checked here;
        # but in the common case the walk that converts the events proves it (see
        # carried_whole), so check_depth runs only on the way to any other refusal.
        payload = parse_object(body, defer_depth=True)
        if source is None:
            source = relay.source_for(_str_or_none(payload.get("writeKey")))
            if source is None:
                check_depth(payload)
                return error(401, "unknown or missing write key")
        try:
            raw_events = batch_events(payload) if is_batch else single_event(payload, name)
        except PayloadError:
            check_depth(payload)
            raise
        if not carried_whole(payload, is_batch):
            check_depth(payload)
        items, problems = _normalize(relay, payload, raw_events, source, received_at, is_batch)
    except PayloadError as exc:
        return error(exc.status, exc.message)
    if problems and not is_batch:
        _REJECTED.inc(len(raw_events))
        if (source_log := source_log_of(request)) is not None:
            source_log.refuse(source, body, problems, received_at.timestamp())
        return error(400, "invalid event", problems=problems)
    if items:
        try:
            failed = await relay.committer.submit(items)
        except StoreFull as exc:  # a state, not a bug: one line (rate-limited), no traceback
            log.error("storing %d events failed: %s", len(items), exc)
            return error(503, "events could not be stored; retry later")
        except Exception:
            # Never echo the store's error: it may name the database URL.
            log.exception("storing %d events failed", len(items))
            return error(503, "events could not be stored; retry later")
        if failed and len(failed) == len(items):
            return error(503, "events could not be stored; retry later")
        for index, reason in failed.items():
            problems.append(f"{_label(items[index], is_batch)}{reason}")
    if problems:
        # An SDK drops a batch answered 400, valid events included: keep the valid ones
        # for delivery and the invalid ones with their reasons (GET /api/rejected).
        _REJECTED.inc(sum(item.problems is not None for item in items))
        return JSONResponse({"success": True, "rejected": problems})
    return JSONResponse({"success": True})


def _label(item: EventRecord, is_batch: bool) -> str:
    return f"messageId {item.message_id}: " if is_batch else ""


def _normalize(
    relay: RelayState,
    payload: dict[str, Any],
    raw_events: list[dict[str, Any]],
    source: str,
    received_at: datetime,
    is_batch: bool,
) -> tuple[list[EventRecord], list[str]]:
    items: list[EventRecord] = []
    problems: list[str] = []
    feeding = relay.pipeline.feeding(source)
    destinations = tuple(d.config.name for d in feeding)
    links = any(d.identity_linking for d in feeding)
    at = received_at.timestamp()
    refused = False
    for index, raw in enumerate(raw_events):
        try:
            event = normalize_event(raw, received_at)
            body = orjson.dumps(event)
            linking = linking_of(event) if links else NO_LINKING
            if linking.code is not None and "\x00" in linking.code:  # stored as text too
                raise SpecError([f"{' or '.join(CODE_KEYS)}: {NUL_PROBLEM}"])
        except (SpecError, orjson.JSONEncodeError) as exc:
            if not refused:  # this event may be what makes the whole body too deep
                check_depth(payload)
                refused = True
            # What JSON cannot carry cannot be stored or sent: refused, alone.
            reasons = (
                exc.problems
                if isinstance(exc, SpecError)
                else [f"event cannot be stored as JSON ({exc})"]
            )
            prefix = f"batch[{index}]: " if is_batch else ""
            problems.extend(prefix + reason for reason in reasons)
            if is_batch:
                items.append(_rejected_item(raw, source, at, reasons))
            continue
        user_id = event.get("userId")
        items.append(
            EventRecord(
                message_id=event["messageId"],
                source=source,
                body=body,
                received_at=at,
                user_id=user_id if isinstance(user_id, str) else None,
                user_key=user_key_of(event),
                destinations=destinations,
                identity_ids=linking.ids,
                link_code=linking.code,
                resolve_code=linking.lookup,
            )
        )
    return items, problems


def _rejected_item(raw: Any, source: str, received_at: float, problems: list[str]) -> EventRecord:
    message_id = raw.get("messageId") if isinstance(raw, dict) else None
    try:
        body = orjson.dumps(raw if isinstance(raw, dict) else {"value": raw})
    except orjson.JSONEncodeError:
        body = orjson.dumps({"value": repr(raw)[:2000]})  # kept for people to read
    return EventRecord(
        message_id=_escape_nul(message_id) if isinstance(message_id, str) else "",
        source=source,
        body=body,
        received_at=received_at,
        problems=tuple(_escape_nul(problem) for problem in problems),
    )


def _escape_nul(text: str) -> str:
    """A rejected event's text as stored for people to read: PostgreSQL's text takes no NUL."""
    return text.replace("\x00", "\\u0000")


def user_key_of(event: dict[str, Any]) -> str | None:
    """Whose events keep their order: the userId, else the anonymousId (as Segment and
    RudderStack key a user); None when neither is a non-empty string or number."""
    for field in ("userId", "anonymousId"):
        value = event.get(field)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
