"""Jinja2 templates of the dashboard (autoescaped), with what every page shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount

from kameleoon_relay import __version__
from kameleoon_relay.dashboard.session import Session
from kameleoon_relay.web.state import relay_of

NAV = (
    ("/", "Overview"),
    ("/sources", "Sources"),
    ("/deliveries", "Deliveries"),
    ("/dead", "Dead letters"),
    ("/mappings", "Mappings"),
    ("/tester", "Event tester"),
)

_env = Environment(
    loader=PackageLoader("kameleoon_relay.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _moment(epoch: float | None) -> Markup:
    """One labelled format, UTC, in a <time> the page's script titles with local time."""
    if epoch is None:
        return Markup("")
    moment = datetime.fromtimestamp(epoch, UTC)
    iso = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return Markup('<time datetime="{}">{}</time>').format(iso, _when(epoch))


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()


_env.filters["when"] = _when
_env.filters["moment"] = _moment
_env.filters["pretty"] = _pretty
_env.filters["compact"] = lambda value: orjson.dumps(value, default=str).decode()  # key order kept


SANDBOX_PATH = "/sandbox"  # where serve mounts the sandbox (server.app.SANDBOX_PATH)


def sandbox_link(request: Request) -> str | None:
    mounted = any(isinstance(r, Mount) and r.path == SANDBOX_PATH for r in request.app.routes)
    return f"{SANDBOX_PATH}/" if mounted else None


def render(
    request: Request, session: Session | None, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    relay = getattr(request.app.state, "relay", None)
    page = _env.get_template(template).render(
        request=request,
        csrf=session.csrf if session else "",
        nav=NAV,
        path=request.url.path,
        sandbox=sandbox_link(request),
        login_required=relay is not None and relay_of(request).admin.configured,
        version=__version__,
        **context,
    )
    headers = {
        "cache-control": "no-store",
        "x-frame-options": "DENY",
        "content-security-policy": "default-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        "referrer-policy": "same-origin",
    }
    return HTMLResponse(page, status, headers=headers)
