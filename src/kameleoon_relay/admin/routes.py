"""The admin API: stats, the delivery log, the event tester and replay.

Guarded as access.py says: loopback Host names (or `allowed_hosts`), state changes
from this site only, JSON bodies declared so, and `admin_token` (a bearer token) or,
with none configured, loopback callers only. Answers come from the store and the
pipeline, which keep the destination's API key out of what they return.
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

from kameleoon_relay.config import ConfigError
from kameleoon_relay.delivery.replay import ReplayError, ReplaySelection
from kameleoon_relay.delivery.replay import replay as replay_deliveries
from kameleoon_relay.destinations.kameleoon_actions.request import visitor_warning
from kameleoon_relay.ingest import SpecError, normalize_event
from kameleoon_relay.pipeline.identity import linking_of
from kameleoon_relay.store import REPLAY_STATES, REPORTED_STATES, DeliveryQuery
from kameleoon_relay.web import params
from kameleoon_relay.web.body import PayloadError, parse_object, read_body
from kameleoon_relay.web.responses import JSONResponse, error
from kameleoon_relay.web.state import relay_of

DELIVERY_STATES = REPORTED_STATES  # what the delivery log can filter on (retrying too)
MAX_LIST_LIMIT = 1000
TEXT_FILTERS = ("destination", "action", "message_id", "user_id")
MAX_ADMIN_BODY = 1024 * 1024

Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """The admin rules of access.py (Host, Origin, JSON bodies, token or loopback)."""

    async def endpoint(request: Request) -> Response:
        refused = relay_of(request).admin.refusal(request)
        if refused is not None:
            return error(refused.status, refused.message, headers=refused.headers or None)
        return await handler(request)

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
    """Newest first; filters: state (comma-separated), destination, action, message_id,
    user_id, since, until; paging: `before` (the last id of the previous page)."""
    query_params = request.query_params
    states = tuple(s for s in (query_params.get("state") or "").split(",") if s)
    try:
        for state in states:
            params.choice(state, DELIVERY_STATES, "state")
        limit = params.limit(query_params.get("limit"), MAX_LIST_LIMIT)
        since = params.epoch(query_params.get("since"), "since")
        until = params.epoch(query_params.get("until"), "until")
        before = params.cursor(query_params.get("before"))
        texts = {name: params.text(query_params.get(name), name) for name in TEXT_FILTERS}
    except params.InvalidParamError as exc:
        return error(exc.status, exc.message)
    query = DeliveryQuery(
        states=states,
        **texts,
        since=since,
        until=until,
        before_id=before,
    )
    rows = await relay_of(request).store.list_deliveries(query, limit)
    answer: dict[str, Any] = {"deliveries": jsonable(rows)}
    if len(rows) == limit:
        answer["next"] = rows[-1]["id"]  # pass as ?before= for the next page
    return JSONResponse(answer)


async def list_rejected(request: Request) -> Response:
    try:
        limit = params.limit(request.query_params.get("limit"), MAX_LIST_LIMIT)
    except params.InvalidParamError as exc:
        return error(exc.status, exc.message)
    rows = await relay_of(request).store.list_rejected(limit)
    return JSONResponse({"rejected": jsonable(rows)})


async def get_delivery(request: Request) -> Response:
    raw_id = request.path_params["delivery_id"]
    try:
        delivery_id = params.delivery_id(raw_id)
    except params.InvalidParamError as exc:
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
    if source is not None and not isinstance(source, str):
        return error(400, "source must be a source name")
    pipeline = relay.pipeline
    code = None
    linking = linking_of(event) if pipeline.links_identities(source) else None
    if linking is not None and linking.lookup:
        code = await relay.store.linked_code(list(linking.ids))
    answer = pipeline.preview(event, source, reveal_secrets=False, linked_code=code)
    for delivery in answer["deliveries"]:
        warning = visitor_warning((delivery.get("request") or {}).get("json"))
        if warning:
            delivery["warnings"] = [warning]
    return JSONResponse(jsonable(answer))


async def replay(request: Request) -> Response:
    """Body: `{"state", "since", "until", "destination", "message_id", "user_id",
    "dry_run"}`, all optional (state: dead). Re-plans with the config in force."""
    relay = relay_of(request)
    try:
        body = parse_object(await read_body(request, MAX_ADMIN_BODY))
    except PayloadError as exc:
        return error(exc.status, exc.message)
    state = body.get("state", "dead")
    if not isinstance(state, str) or state not in REPLAY_STATES:
        return error(400, f"state must be one of {', '.join(REPLAY_STATES)}")
    try:
        since = params.epoch(body.get("since"), "since")
        until = params.epoch(body.get("until"), "until")
    except params.InvalidParamError as exc:
        return error(exc.status, exc.message)
    names = ("destination", "message_id", "user_id")
    for name in names:
        if body.get(name) is not None and not isinstance(body[name], str):
            return error(400, f"{name} must be a string")
        try:
            params.text(body.get(name), name)
        except params.InvalidParamError as exc:
            return error(exc.status, exc.message)
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        return error(400, "dry_run must be true or false")
    selection = ReplaySelection(state, since, until, *(body.get(name) for name in names))
    try:
        report = await replay_deliveries(relay.store, relay.pipeline, selection, dry_run=dry_run)
    except ReplayError as exc:
        return error(400, str(exc))
    if not dry_run:
        relay.on_stored()
    return JSONResponse(jsonable(report.to_dict()))


async def reload_config(request: Request) -> Response:
    """Read the config file again; an invalid one is refused and the running one stays."""
    relay = relay_of(request)
    try:
        config = relay.reload()
    except ConfigError as exc:
        return error(422, "configuration not reloaded", problems=exc.problems)
    return JSONResponse({"reloaded": True, "destinations": [d.name for d in config.destinations]})


def routes() -> list[Route]:
    return [
        Route("/api/stats", guarded(stats), methods=["GET"]),
        Route("/api/deliveries", guarded(list_deliveries), methods=["GET"]),
        Route("/api/deliveries/{delivery_id}", guarded(get_delivery), methods=["GET"]),
        Route("/api/rejected", guarded(list_rejected), methods=["GET"]),
        Route("/api/preview", guarded(preview), methods=["POST"]),
        Route("/api/replay", guarded(replay), methods=["POST"]),
        Route("/api/config/reload", guarded(reload_config), methods=["POST"]),
    ]
