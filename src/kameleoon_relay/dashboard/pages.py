"""The dashboard's pages (GET) and its login and logout forms."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kameleoon_relay.access import client_of
from kameleoon_relay.admin.routes import DELIVERY_STATES, jsonable
from kameleoon_relay.dashboard import filters
from kameleoon_relay.dashboard.mappings import describe
from kameleoon_relay.dashboard.render import render
from kameleoon_relay.dashboard.session import (
    COOKIE,
    LOGIN_COOKIE,
    SESSION_SECONDS,
    Gate,
    Handler,
    Session,
    csrf_ok,
    set_cookie,
)
from kameleoon_relay.dashboard.subscriptions_state import subscription_states
from kameleoon_relay.store import DeliveryQuery
from kameleoon_relay.web import params  # the admin API's parameter rules
from kameleoon_relay.web.responses import error
from kameleoon_relay.web.state import relay_of

PAGE_SIZE = 50
DEAD_PAGE = 200
MAX_FORM = 16 * 1024


async def overview(request: Request, session: Session) -> Response:
    relay = relay_of(request)
    return render(request, session, "overview.html", destinations=relay.config.destinations)


async def sources(request: Request, session: Session) -> Response:
    config = relay_of(request).config
    return render(request, session, "sources.html", sources=[s.name for s in config.sources])


async def deliveries(request: Request, session: Session) -> Response:
    chosen = filters.chosen(request.query_params)
    problem = None
    rows: list[dict[str, Any]] = []
    try:
        query = filters.delivery_query(chosen, request.query_params.get("before") or "")
        rows = await relay_of(request).store.list_deliveries(query, PAGE_SIZE)
    except ValueError as exc:
        problem = str(exc)
    more = {k: v for k, v in chosen.items() if v}
    full = len(rows) == PAGE_SIZE
    return render(
        request,
        session,
        "deliveries.html",
        status=400 if problem else 200,
        rows=rows,
        chosen=chosen,
        states=DELIVERY_STATES,
        destinations=[d.name for d in relay_of(request).config.destinations],
        problem=problem,
        next_params={**more, "before": rows[-1]["id"]} if full else None,
        paged=bool(request.query_params.get("before")),
    )


async def delivery(request: Request, session: Session) -> Response:
    raw = request.path_params["delivery_id"]
    try:
        found = await relay_of(request).store.get_delivery(params.delivery_id(raw))
    except params.InvalidParamError:
        found = None
    if found is None:
        return render(request, session, "missing.html", status=404, what=f"delivery {raw}")
    shown = jsonable(found)
    states = subscription_states(shown["history"])
    return render(request, session, "delivery.html", d=shown, subscriptions=states)


async def dead(request: Request, session: Session) -> Response:
    relay = relay_of(request)
    try:
        destination = params.text(request.query_params.get("destination"), "destination")
    except params.InvalidParamError as exc:
        return error(exc.status, exc.message)
    query = DeliveryQuery(states=("dead",), destination=destination)
    rows = await relay.store.list_deliveries(query, DEAD_PAGE)
    total = await relay.store.count_deliveries(query)
    return render(
        request,
        session,
        "dead.html",
        rows=rows,
        total=total,
        destination=destination or "",
        destinations=[d.name for d in relay.config.destinations],
    )


async def mappings(request: Request, session: Session) -> Response:
    config = relay_of(request).config
    return render(
        request,
        session,
        "mappings.html",
        destinations=[
            describe(d, config.subscriptions_from.get(d.name)) for d in config.destinations
        ],
        overlay=str(config.overlay) if config.overlay else None,
        embedded_default=config.path is None,
    )


async def tester(request: Request, session: Session) -> Response:
    relay = relay_of(request)
    recent: list[dict[str, Any]] = []
    seen: set[int] = set()
    for row in await relay.store.list_deliveries(DeliveryQuery(), 30):
        if row["event_id"] in seen or len(recent) >= 10:
            continue
        seen.add(row["event_id"])
        found = await relay.store.get_delivery(row["id"])
        if found is not None:
            recent.append(
                {"label": _label(found["event"]), "event": found["event"], "source": row["source"]}
            )
    return render(
        request,
        session,
        "tester.html",
        recent=recent,
        sources=[s.name for s in relay.config.sources],
    )


def _label(event: dict[str, Any]) -> str:
    kind = event.get("type", "?")
    name = event.get("event") or event.get("name") or ""
    return f"{kind} {name} · {event.get('messageId', '')}".strip()


# -- login and logout ----------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (login, logout), without a multipart parser."""
    body = await request.body()
    if len(body) > MAX_FORM:
        return {}
    pairs = parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
    return dict(pairs)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or a scheme."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _refusal(request: Request) -> Response | None:
    """access.py's Host and Origin rules for the login and logout forms."""
    refused = relay_of(request).admin.surface_refusal(request, forms=True)
    return None if refused is None else error(refused.status, refused.message)


def login_form(gate: Gate) -> Handler:
    async def endpoint(request: Request) -> Response:
        if (refused := _refusal(request)) is not None:
            return refused
        if not relay_of(request).admin.configured:
            return RedirectResponse("/", status_code=303)
        return _login_page(request, request.query_params.get("next"), None, 200)

    return endpoint


def _login_page(request: Request, target: str | None, problem: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request, None, "login.html", status=status, login_csrf=token,
        next=_safe_next(target), problem=problem,
    )  # fmt: skip
    set_cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response


def login(gate: Gate) -> Handler:
    async def endpoint(request: Request) -> Response:
        if (refused := _refusal(request)) is not None:
            return refused
        relay = relay_of(request)
        if not relay.admin.configured:
            return RedirectResponse("/", status_code=303)
        form = await _form(request)
        target = str(form.get("next") or "/")
        expected = request.cookies.get(LOGIN_COOKIE, "")
        supplied = str(form.get("csrf_token") or "")
        if not expected or not hmac.compare_digest(expected.encode(), supplied.encode()):
            return _login_page(request, target, "The form expired: please try again.", 403)
        if (locked := relay.admin.locked_out(request)) is not None:
            page = _login_page(request, target, f"Too many wrong tokens: {locked.message}.", 429)
            page.headers.update(locked.headers)
            return page
        token = str(form.get("token") or "")
        configured = relay.config.admin_token or ""
        if not relay.admin.token_matches(token):
            relay.admin.throttle.failed(client_of(request))
            return _login_page(request, target, "Wrong admin token.", 401)
        relay.admin.throttle.succeeded(client_of(request))
        sid, _ = gate.sessions.create(configured)
        response = RedirectResponse(_safe_next(target), status_code=303)
        set_cookie(response, request, COOKIE, sid, SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    return endpoint


def logout(gate: Gate) -> Handler:
    async def endpoint(request: Request) -> Response:
        if (refused := _refusal(request)) is not None:
            return refused
        session = gate.sessions.find(request)
        form = await _form(request)
        if session is not None:
            if not csrf_ok(session, str(form.get("csrf_token") or "")):
                return Response("missing or wrong CSRF token", 403)
            gate.sessions.drop(request)
        response = RedirectResponse("/login" if relay_of(request).admin.configured else "/", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return endpoint
