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

from kameleoon_relay.server.body import PayloadError, parse_object, read_body
from kameleoon_relay.server.responses import JSONResponse, error
from kameleoon_relay.server.state import relay_of
from kameleoon_relay.spec import SpecError, normalize_event
from kameleoon_relay.store.models import REPLAYABLE_STATES, STATES

DELIVERY_STATES = STATES  # what the delivery log can filter on
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
    state = request.query_params.get("state") or None
    if state is not None and state not in DELIVERY_STATES:
        return error(400, f"state must be one of {', '.join(DELIVERY_STATES)}")
    limit = _limit(request)
    if limit is None:
        return error(400, f"limit must be an integer from 1 to {MAX_LIST_LIMIT}")
    rows = await relay_of(request).store.list_deliveries(state, limit)
    return JSONResponse({"deliveries": jsonable(rows)})


async def list_rejected(request: Request) -> Response:
    limit = _limit(request)
    if limit is None:
        return error(400, f"limit must be an integer from 1 to {MAX_LIST_LIMIT}")
    rows = await relay_of(request).store.list_rejected(limit)
    return JSONResponse({"rejected": jsonable(rows)})


def _limit(request: Request) -> int | None:
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST_LIMIT:
        return None
    return int(raw)


async def get_delivery(request: Request) -> Response:
    raw_id = request.path_params["delivery_id"]
    delivery = await relay_of(request).store.get_delivery(int(raw_id)) if raw_id.isdigit() else None
    if delivery is None:
        return error(404, f"no delivery {raw_id}")
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
        since = _epoch(body.get("since"))
    except ValueError:
        return error(400, "since must be an ISO 8601 date-time or epoch seconds")
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


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def routes() -> list[Route]:
    return [
        Route("/api/stats", guarded(stats), methods=["GET"]),
        Route("/api/deliveries", guarded(list_deliveries), methods=["GET"]),
        Route("/api/deliveries/{delivery_id}", guarded(get_delivery), methods=["GET"]),
        Route("/api/rejected", guarded(list_rejected), methods=["GET"]),
        Route("/api/preview", guarded(preview), methods=["POST"]),
        Route("/api/replay", guarded(replay), methods=["POST"]),
    ]
