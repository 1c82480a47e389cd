"""The operator's dashboard, served by `serve`: server-rendered pages, a little JavaScript.

`routes(json_index)` gives the pages (`/`, `/sources`, `/deliveries`, `/dead`, `/mappings`,
`/tester`, `/login`), their JSON calls under `/dashboard/api/` and the static files.
`/` answers JSON (`json_index`) to clients that ask for JSON, the overview to browsers.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from kameleoon_relay.dashboard import api, pages
from kameleoon_relay.dashboard.session import Gate, Sessions

Endpoint = api.Endpoint
__all__ = ["Endpoint", "Sessions", "routes", "wants_html"]


def wants_html(request: Request) -> bool:
    """Browsers ask for text/html; API clients (and `curl`, `*/*`) get JSON."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


FAVICON = Path(__file__).parent / "static" / "favicon.svg"


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever the page links: the same icon, not a 404."""
    return FileResponse(FAVICON, media_type="image/svg+xml")


def routes(json_index: Endpoint, sessions: Sessions | None = None) -> list[BaseRoute]:
    gate = Gate(sessions or Sessions())
    overview = gate.page(pages.overview)

    async def index(request: Request) -> Response:
        return await (overview if wants_html(request) else json_index)(request)

    return [
        Route("/", index, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/login", pages.login_form(gate), methods=["GET"]),
        Route("/login", pages.login(gate), methods=["POST"]),
        Route("/logout", pages.logout(gate), methods=["POST"]),
        Route("/sources", gate.page(pages.sources), methods=["GET"]),
        Route("/deliveries", gate.page(pages.deliveries), methods=["GET"]),
        Route("/deliveries/{delivery_id}", gate.page(pages.delivery), methods=["GET"]),
        Route("/dead", gate.page(pages.dead), methods=["GET"]),
        Route("/mappings", gate.page(pages.mappings), methods=["GET"]),
        Route("/tester", gate.page(pages.tester), methods=["GET"]),
        *api.routes(gate),
        Mount(
            "/dashboard/static",
            app=StaticFiles(packages=[("kameleoon_relay.dashboard", "static")]),
        ),
    ]
