"""The sandbox's HTTP surface: Kameleoon's `/segmentio` contract, the JSON API and the page."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kameleoon_relay.sandbox import data_api
from kameleoon_relay.sandbox.config import load_config
from kameleoon_relay.sandbox.faults import FaultSettings, FaultSettingsError
from kameleoon_relay.sandbox.faults_middleware import FaultMiddleware
from kameleoon_relay.sandbox.guard import ControlsGuard
from kameleoon_relay.sandbox.state import Sandbox
from kameleoon_relay.sandbox.store import Store
from kameleoon_relay.sandbox.tracker import EventRejected, sender_of


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message, "status": status}, status)


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


# -- Kameleoon's endpoint contract -------------------------------------------------------


async def segmentio(request: Request) -> Response:
    sandbox = _sandbox(request)
    store = sandbox.store
    sandbox.schedule_commit()
    try:
        raw = await request.body()
    except ClientDisconnect:
        return _error(400, "the client hung up before the body was complete")
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    sender = sender_of(request.headers.get("user-agent"), body)
    sitecode = request.headers.get("x-segment-settings", "")

    def reject(status: int, reason: str) -> Response:
        # Kept in the event log with why, so the page can show it.
        store.count("rejected")
        fields = body if isinstance(body, dict) else {}
        row = (
            time.time(), sitecode, _text_or_none(fields.get("messageId")),
            _text_or_none(fields.get("type")),
            _text_or_none(fields.get("event")) or _text_or_none(fields.get("name")),
            None, "rejected", None, raw,
        )  # fmt: skip
        store.log_event(row, reason=f"{status}: {reason}", sender=sender)
        return _error(status, reason)

    account = sandbox.account(request.headers.get("authorization"))
    if account is None:
        return reject(401, "unknown API key: send `authorization: Basic {apiKey}`")
    if not any(site.sitecode == sitecode for site in account.sites):
        return reject(403, f"sitecode {sitecode!r} does not belong to this API key")
    if body is None:
        return reject(400, "malformed JSON body")
    if not isinstance(body, dict):
        return reject(400, "the body must be a JSON object")
    try:
        outcome = sandbox.tracker.handle(sitecode, body, raw, sender=sender)
    except EventRejected as exc:
        return reject(400, str(exc))
    return _json(outcome.to_json())


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


async def getapikey(request: Request) -> Response:
    sandbox = _sandbox(request)
    sandbox.store.count("auth_checks")
    sandbox.schedule_commit()
    account = sandbox.config.account_for_key(dict(request.query_params))
    if account is None:
        return _error(401, "invalid credentials")
    return _json({"ok": True, "sitecodes": [site.sitecode for site in account.sites]})


# -- inspection API ----------------------------------------------------------------------


def _limit(request: Request, default: int) -> int:
    value = request.query_params.get("limit", str(default))
    if not value.isdigit():
        raise ValueError("limit must be a positive integer")
    return max(1, min(int(value), 1000))


async def api_goals(request: Request) -> Response:
    sitecode = request.query_params.get("sitecode")
    return _json({"goals": _sandbox(request).store.goals(sitecode)})


async def api_visitors(request: Request) -> Response:
    store = _sandbox(request).store
    try:
        limit = _limit(request, 50)
    except ValueError as exc:
        return _error(400, str(exc))
    keys = store.visitor_keys(request.query_params.get("sitecode"), limit)
    return _json({"visitors": [store.visitor(site, code) for site, code in keys]})


async def api_visitor(request: Request) -> Response:
    store = _sandbox(request).store
    code = request.path_params["code"]
    found = store.find_visitor(code, request.query_params.get("sitecode"))
    if found is None:
        return _error(404, f"no visitor {code!r}")
    return _json(store.visitor(*found))


async def api_events(request: Request) -> Response:
    """Newest first; `q` searches, `before` pages (the `next` of the previous answer)."""
    try:
        limit = _limit(request, 50)
    except ValueError as exc:
        return _error(400, str(exc))
    params = request.query_params
    before = params.get("before") or None
    if before is not None and not (before.isdigit() and len(before) < 19):
        return _error(400, "before must be an event seq")
    events = _sandbox(request).store.events(
        limit,
        params.get("sitecode"),
        search=(params.get("q") or "").strip() or None,
        before=int(before) if before else None,
    )
    answer: dict[str, Any] = {"events": events}
    if len(events) == limit:
        answer["next"] = events[-1]["seq"]
    return _json(answer)


async def api_arrivals(request: Request) -> Response:
    """Per user (userId, else anonymousId), the messageIds in the order they first arrived
    (of the events still kept): how a test or benchmark sees whether order held; `at`:
    when each first arrival came (epoch seconds), in arrival order."""
    users, times = _sandbox(request).store.arrivals(request.query_params.get("sitecode"))
    return _json({"users": users, "at": times})


async def api_stats(request: Request) -> Response:
    store = _sandbox(request).store
    c = store.counters
    return _json(
        {
            "received": c["received"],
            "accepted": c["accepted"],
            "rejected": c["rejected"],
            "duplicates": c["duplicates"],
            "auth_checks": c["auth_checks"],
            "token_requests": c["token_requests"],
            "tokens_issued": c["tokens_issued"],
            "tokens_refused": c["tokens_refused"],
            "faults": {
                "error": c["fault_error"],
                "rate_limit": c["fault_rate_limit"],
                "timeout": c["fault_timeout"],
                "reset": c["fault_reset"],
            },
            **store.totals(),
        }
    )


async def api_faults(request: Request) -> Response:
    injector = _sandbox(request).faults
    if request.method == "POST":
        try:
            settings = FaultSettings.from_json(orjson.loads(await request.body() or b"{}"))
        except orjson.JSONDecodeError:
            return _error(400, "malformed JSON body")
        except (FaultSettingsError, TypeError) as exc:
            return _error(400, str(exc))
        injector.configure(settings)
    elif request.method == "PATCH":  # change some, keep the others (latency while running)
        try:
            settings = injector.settings.merged(orjson.loads(await request.body() or b"{}"))
        except orjson.JSONDecodeError:
            return _error(400, "malformed JSON body")
        except (FaultSettingsError, TypeError) as exc:
            return _error(400, str(exc))
        injector.configure(settings)
    elif request.method == "DELETE":
        injector.configure(FaultSettings())
    return _json(injector.settings.to_json())


_PAGE = resources.files("kameleoon_relay.sandbox").joinpath("page.html").read_text()


async def page(request: Request) -> HTMLResponse:
    # A <base> at the mount point keeps the page's relative API URLs right under /sandbox.
    base = request.scope.get("root_path", "").rstrip("/") + "/"
    return HTMLResponse(_PAGE.replace("{{base}}", base))


# -- the app -----------------------------------------------------------------------------


def create_app(
    config_path: str | Path | None = None,
    db_path: str | None = None,
    faults: FaultSettings | None = None,
    retention: float | None = None,
) -> Starlette:
    """A sandbox ASGI app; mount it (`Mount("/sandbox", app=...)`) or serve it alone.

    `db_path` None keeps the state in memory. When mounted, Starlette does not run
    the sub-app's lifespan: writes still reach the file within COMMIT_DELAY, and
    `app.state.sandbox.close()` flushes at once. With `retention` (seconds), what was
    last seen longer ago is forgotten, as the relay prunes its own queue.
    """
    sandbox = Sandbox(
        load_config(config_path),
        Store(db_path or ":memory:"),
        faults or FaultSettings(),
        retention=retention,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sandbox.close()

    routes = [
        Route("/", page),
        Route("/segmentio", segmentio, methods=["POST"]),
        Route("/segmentio/getapikey", getapikey, methods=["GET"]),
        Route("/oauth/token", data_api.oauth_token, methods=["POST"]),
        Route("/visit/events", data_api.visit_events, methods=["POST"]),
        Route("/visit/visitor", data_api.visit_visitor, methods=["GET"]),
        Route("/api/data-api", data_api.api_data_api, methods=["GET", "POST"]),
        Route("/api/goals", api_goals),
        Route("/api/visitors", api_visitors),
        Route("/api/visitors/{code:path}", api_visitor),
        Route("/api/events", api_events),
        Route("/api/arrivals", api_arrivals),
        Route("/api/stats", api_stats),
        Route("/api/faults", api_faults, methods=["GET", "POST", "PATCH", "DELETE"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ControlsGuard, sandbox=sandbox),
            Middleware(FaultMiddleware, sandbox=sandbox),
        ],
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    return app
