"""JSON calls of the dashboard's scripts, under /dashboard/api/ (session + CSRF guarded)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kameleoon_relay.admin.routes import MAX_ADMIN_BODY, jsonable
from kameleoon_relay.config import ConfigError
from kameleoon_relay.dashboard import filters, mappings, sources, tester
from kameleoon_relay.dashboard.overview import overview
from kameleoon_relay.dashboard.session import Gate, Session
from kameleoon_relay.delivery.replay import ReplayError, ReplaySelection, query_for, replay
from kameleoon_relay.destinations import DESTINATION_TYPES
from kameleoon_relay.destinations.kameleoon_actions.destination import AuthenticationError
from kameleoon_relay.ingest import SpecError
from kameleoon_relay.ingest.source_log import source_log_of
from kameleoon_relay.web.body import PayloadError, parse_object, read_body
from kameleoon_relay.web.responses import JSONResponse, error
from kameleoon_relay.web.state import relay_of

Endpoint = Callable[[Request], Awaitable[Response]]
MAX_IDS = 500
MAX_SEARCH = 200
AUTH_TIMEOUT = 10.0


async def _body(request: Request) -> dict[str, Any]:
    return parse_object(await read_body(request, MAX_ADMIN_BODY))


async def overview_data(request: Request, session: Session) -> Response:
    relay = relay_of(request)
    names = [d.name for d in relay.config.destinations]
    return JSONResponse(jsonable(await overview(relay.store, names)))


def _destination(request: Request, body: dict[str, Any]) -> Any:
    try:
        return relay_of(request).config.destination(str(body.get("destination")))
    except KeyError:
        return None


async def check(request: Request, session: Session) -> Response:
    """Compile an edited subscription (trigger, action, mapping) without saving it."""
    try:
        body = await _body(request)
    except PayloadError as exc:
        return error(exc.status, exc.message)
    destination = _destination(request, body)
    if destination is None:
        return error(404, "no such destination")
    edit = body.get("subscription")
    edit = edit if isinstance(edit, dict) else {}
    problems = mappings.check(destination, edit)
    warnings = mappings.warnings(edit) if not problems else []
    return JSONResponse({"ok": not problems, "problems": problems, "warnings": warnings})


async def save(request: Request, session: Session) -> Response:
    try:
        body = await _body(request)
    except PayloadError as exc:
        return error(exc.status, exc.message)
    index = body.get("index")
    edit = body.get("subscription")
    if (index is not None and not isinstance(index, int)) or not isinstance(edit, dict):
        return error(400, "expected {destination, index (or null to add), subscription}")
    try:
        saved = mappings.save(relay_of(request), str(body.get("destination")), index, edit)
    except ConfigError as exc:
        return error(422, "not saved", problems=exc.problems)
    return JSONResponse({"saved": True, "subscriptions": saved.subscriptions})


async def test_auth(request: Request, session: Session) -> Response:
    """Kameleoon's test authentication; the URL (it carries the key's entries) is never shown."""
    try:
        body = await _body(request)
    except PayloadError as exc:
        return error(exc.status, exc.message)
    destination = _destination(request, body)
    if destination is None:
        return error(404, "no such destination")
    test = DESTINATION_TYPES[destination.type].test_authentication
    if test is None:
        return JSONResponse({"ok": False, "message": "no test authentication for this type"})
    try:
        probe = test(destination.settings, destination.endpoint, destination.options)
        assert probe is not None
        async with httpx.AsyncClient(timeout=AUTH_TIMEOUT) as client:
            answer = await client.request(
                probe.method, probe.url, headers=probe.headers, content=probe.body or None
            )
    except AuthenticationError as exc:
        return JSONResponse({"ok": False, "message": f"invalid settings: {exc}"})
    except httpx.HTTPError as exc:
        where = destination.options.get("token_url", destination.endpoint)
        message = f"cannot reach {where} ({type(exc).__name__})"
        return JSONResponse({"ok": False, "message": message})
    verdict = "credentials accepted" if answer.is_success else "invalid credentials"
    hint = DESTINATION_TYPES[destination.type].auth_failure_hint
    if not answer.is_success and hint:
        verdict += f": {hint}"
    return JSONResponse({"ok": answer.is_success, "status": answer.status_code, "message": verdict})


async def run_tester(request: Request, session: Session) -> Response:
    try:
        body = await _body(request)
    except PayloadError as exc:
        return error(exc.status, exc.message)
    event, source = body.get("event"), body.get("source") or None
    if not isinstance(event, dict):
        return error(400, "event must be a JSON object")
    if source is not None and not isinstance(source, str):
        return error(400, "source must be a source name")
    try:
        result = await tester.run(relay_of(request), event, source, body.get("send") is True)
    except SpecError as exc:
        return error(400, "invalid event", problems=exc.problems)
    return JSONResponse(jsonable(result))


def _ids(raw: Any) -> list[int] | None:
    if not isinstance(raw, list) or len(raw) > MAX_IDS:
        return None
    if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in raw):
        return None
    return raw


async def replay_selected(request: Request, session: Session) -> Response:
    """Replay these dead deliveries with the config in force (delivery/replay.py)."""
    relay = relay_of(request)
    try:
        body = await _body(request)
    except PayloadError as exc:
        return error(exc.status, exc.message)
    ids = _ids(body.get("ids"))
    if ids is None:
        return error(400, f"ids must be a list of at most {MAX_IDS} delivery ids")
    requeued, problems = 0, []
    for delivery_id in ids:
        found = await relay.store.get_delivery(delivery_id)
        if found is None or found["state"] != "dead":
            continue
        selection = ReplaySelection(
            "dead", destination=found["destination"], message_id=found["message_id"]
        )
        try:
            report = await replay(relay.store, relay.pipeline, selection)
        except ReplayError as exc:
            problems.append(f"delivery {delivery_id}: {exc}")
            continue
        requeued += report.requeued
    if requeued:
        relay.on_stored()
    return JSONResponse({"requeued": requeued, "problems": problems})


async def replay_matching(request: Request, session: Session) -> Response:
    """Replay what a filtered deliveries list shows: `{filters, dry_run}`; a dry run
    counts them (the page asks before replaying), else they are requeued."""
    relay = relay_of(request)
    try:
        body = await _body(request)
    except PayloadError as exc:
        return error(exc.status, exc.message)
    given = body.get("filters")
    if not isinstance(given, dict):
        return error(400, "filters must be an object of the list's filters")
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        return error(400, "dry_run must be true or false")
    try:
        selection = filters.replay_selection(filters.chosen(given))
        if dry_run:
            matched = await relay.store.count_deliveries(query_for(selection, relay.pipeline))
            return JSONResponse({"dry_run": True, "matched": matched, "state": selection.state})
        report = await replay(relay.store, relay.pipeline, selection)
    except ValueError as exc:  # ReplayError and unreadable filters alike
        return error(400, str(exc))
    if report.requeued:
        relay.on_stored()
    return JSONResponse({"dry_run": False, **report.to_dict()})


async def states(request: Request, session: Session) -> Response:
    """The reported state of each delivery id (for the replay's progress)."""
    raw = request.query_params.get("ids", "")
    parts = [p for p in raw.split(",") if p]
    if len(parts) > MAX_IDS or not all(p.isdigit() and len(p) < 19 for p in parts):
        return error(400, "ids must be comma-separated delivery ids")
    store = relay_of(request).store
    found: dict[str, str | None] = {}
    for part in parts:
        row = await store.get_delivery(int(part))
        found[part] = row["state"] if row else None
    return JSONResponse({"states": found})


def _cursor(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "0") or "0"
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


async def sources_data(request: Request, session: Session) -> Response:
    """The Sources page's refresh: volume per source, and the events newer than the
    cursors (`after`, `refused_after`, `log_after`; 0 for the newest)."""
    relay = relay_of(request)
    cursors = [_cursor(request, n) for n in ("after", "refused_after", "log_after")]
    if None in cursors:
        return error(400, "after, refused_after and log_after must be cursors (integers)")
    after, refused_after, log_after = (c or 0 for c in cursors)
    log = source_log_of(request)
    names = [s.name for s in relay.config.sources]
    found = await sources.stream(relay.store, log, after, refused_after, log_after)
    shown = {"volume": await sources.volume(relay.store, log, names), **found}
    return JSONResponse(jsonable(shown))


async def sources_search(request: Request, session: Session) -> Response:
    text = (request.query_params.get("q") or "").strip()
    if not text or len(text) > MAX_SEARCH:
        return error(400, f"q: a messageId, userId or event name (at most {MAX_SEARCH} characters)")
    source = request.query_params.get("source") or None
    log = source_log_of(request)
    found = await sources.search(relay_of(request).store, log, text, source)
    return JSONResponse(jsonable({"events": found}))


def routes(gate: Gate) -> list[Route]:
    prefix = "/dashboard/api"
    return [
        Route(f"{prefix}/overview", gate.api(overview_data), methods=["GET"]),
        Route(f"{prefix}/states", gate.api(states), methods=["GET"]),
        Route(f"{prefix}/sources", gate.api(sources_data), methods=["GET"]),
        Route(f"{prefix}/sources/search", gate.api(sources_search), methods=["GET"]),
        Route(f"{prefix}/check", gate.api(check), methods=["POST"]),
        Route(f"{prefix}/save", gate.api(save), methods=["POST"]),
        Route(f"{prefix}/test-auth", gate.api(test_auth), methods=["POST"]),
        Route(f"{prefix}/tester", gate.api(run_tester), methods=["POST"]),
        Route(f"{prefix}/replay", gate.api(replay_selected), methods=["POST"]),
        Route(f"{prefix}/replay-matching", gate.api(replay_matching), methods=["POST"]),
    ]
