"""A parent app that mounts the sandbox at /sandbox, as the relay's `serve` does.

Its BaseHTTPMiddleware hands the sandbox a `send` that does not lead back to the
server's transport, so a reset fault must take the fallback path.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from kameleoon_relay.sandbox import create_app


async def home(request) -> PlainTextResponse:
    return PlainTextResponse("parent")


async def tag(request, call_next):
    response = await call_next(request)
    response.headers["x-parent"] = "1"
    return response


def create() -> Starlette:
    sandbox = create_app()
    return Starlette(
        routes=[Route("/", home), Mount("/sandbox", app=sandbox)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=tag)],
    )
