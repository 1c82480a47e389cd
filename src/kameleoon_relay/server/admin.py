"""The admin API: stats, the delivery log, the event tester and replay.

Guarded by `admin_token` (a bearer token) or, with none configured, answered on
loopback only. Answers come from the store and the pipeline, which keep the
destination's API key out of what they return.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kameleoon_relay.server import params
from kameleoon_relay.server.body import PayloadError, parse_object, read_body
from kameleoon_relay.server.responses import JSONResponse, error
from kameleoon_relay.server.state import relay_of
from kameleoon_relay.spec import SpecError, normalize_event
from kameleoon_relay.store.models import REPLAYABLE_STATES, STATES

# What the delivery log can filter on: the stored states, and `retrying` as /api/stats
# reports it (pending, attempted before).
DELIVERY_STATES = (*STATES, "retrying")
RETRYING_SCAN_PAGES = 20  # pages of pending deliveries scanned for retrying ones
MAX_LIST_LIMIT = 1000
MAX_ADMIN_BODY = 1024 * 1024

Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        relay = relay_of(request)
        if relay.admin.allows(request):
            return await handler(request)
        if relay.admin.configured:
            return error(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})
        return error(403, "the admin API answers on loopback only unless admin_token is set")

    return endpoint


def jsonable(value: Any) -> Any:
    """Store and pipeline answers (dataclasses, datetimes) as plain JSON values."""
    return orjson.loads(orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS))


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


async def stats(request: Request) -> Response:
    return JSONResponse(jsonable(await relay_of(request).store.stats()))


async def list_deliveries(request: Request) -> Response:
    try:
        state = params.choice(request.query_params.get("state"), DELIVERY_STATES, "state")
        limit = params.limit(request.query_params.get("limit"), MAX_LIST_LIMIT)
    except params.ParamError as exc:
        return error(exc.status, exc.message)
    store = relay_of(request).store
    if state == "retrying":
        rows = await _retrying(store, limit)
    else:
        rows = await store.list_deliveries(state, limit)
    return JSONResponse({"deliveries": jsonable(rows)})


async def _retrying(store: Any, limit: int) -> list[dict[str, Any]]:
    """Pending deliveries attempted before (what /api/stats counts as `retrying`)."""
    rows: list[dict[str, Any]] = []
    for page_number in range(RETRYING_SCAN_PAGES):
        page = await store.list_deliveries(
            "pending", MAX_LIST_LIMIT, offset=page_number * MAX_LIST_LIMIT
        )
        rows.extend(row for row in page if row.get("attempts", 0) > 0)
        if len(rows) >= limit or len(page) < MAX_LIST_LIMIT:
            break
    return rows[:limit]


async def list_rejected(request: Request) -> Response:
    try:
        limit = params.limit(request.query_params.get("limit"), MAX_LIST_LIMIT)
    except params.ParamError as exc:
        return error(exc.status, exc.message)
    rows = await relay_of(request).store.list_rejected(limit)
    return JSONResponse({"rejected": jsonable(rows)})


async def get_delivery(request: Request) -> Response:
    raw_id = request.path_params["delivery_id"]
    try:
        delivery_id = params.delivery_id(raw_id)
    except params.ParamError as exc:
        return error(exc.status, exc.message)
    delivery = await relay_of(request).store.get_delivery(delivery_id)
    if delivery is None:
        return error(404, f"no delivery {delivery_id}")
    return JSONResponse(jsonable(delivery))


async def preview(request: Request) -> Response:
    """Body: an event, or `{"event": {...}, "source": "name"}`."""
    try:
        body = parse_object(await read_body(request, MAX_ADMIN_BODY))
    except PayloadError as exc:
        return error(exc.status, exc.message)
    raw, source = body, request.query_params.get("source")
    if isinstance(body.get("event"), dict):
        raw, source = body["event"], body.get("source", source)
    if source is not None and not isinstance(source, str):
        return error(400, "source must be a source name")
    try:
        # As ingest would store it: messageId, receivedAt and timestamp filled.
        event = normalize_event(raw, datetime.now(UTC))
    except SpecError as exc:
        return error(400, "invalid event", problems=exc.problems)
    relay = relay_of(request)
    answer = relay.pipeline.preview(
        event, source, reveal_secrets=False, identities=relay.identities.copy()
    )
    return JSONResponse(jsonable(answer))


async def replay(request: Request) -> Response:
    """Body: `{"state", "since", "destination", "dry_run"}`, all optional (state: dead)."""
    relay = relay_of(request)
    try:
        body = parse_object(await read_body(request, MAX_ADMIN_BODY))
    except PayloadError as exc:
        return error(exc.status, exc.message)
    state = body.get("state", "dead")
    if state not in REPLAYABLE_STATES:
        return error(400, f"state must be one of {', '.join(REPLAYABLE_STATES)}")
    try:
        since = params.epoch(body.get("since"))
    except params.ParamError as exc:
        return error(exc.status, exc.message)
    destination = body.get("destination")
    if destination is not None and not isinstance(destination, str):
        return error(400, "destination must be a destination name")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        return error(400, "dry_run must be true or false")
    count = await relay.store.replay(
        state=state, since=since, destination=destination, dry_run=dry_run
    )
    if not dry_run:
        relay.on_stored()
    return JSONResponse({"requeued": count, "dry_run": dry_run})


def routes() -> list[Route]:
    return [
        Route("/api/stats", guarded(stats), methods=["GET"]),
        Route("/api/deliveries", guarded(list_deliveries), methods=["GET"]),
        Route("/api/deliveries/{delivery_id}", guarded(get_delivery), methods=["GET"]),
        Route("/api/rejected", guarded(list_rejected), methods=["GET"]),
        Route("/api/preview", guarded(preview), methods=["POST"]),
        Route("/api/replay", guarded(replay), methods=["POST"]),
    ]
