"""A parent app that mounts the sandbox at /sandbox, as the relay's `serve` does."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from kameleoon_relay.sandbox import create_app


async def home(request) -> PlainTextResponse:
    return PlainTextResponse("parent")


def create() -> Starlette:
    return Starlette(routes=[Route("/", home), Mount("/sandbox", app=create_app())])
