"""The ingest ceiling: a do-nothing Starlette app on the relay's own server stack.

It reads each request's body and answers 200 {"success":true}, nothing else, and
it runs under `kameleoon_relay.server.runner.run`, the function `serve` uses, so
it gets the relay's uvicorn settings (loop, HTTP parser, ...) whatever they become.
The relay's ingest figure over this one is the share of the server stack's
maximum that ingest keeps.

    python bench/ceiling_app.py --port 8098
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kameleoon_relay.server.runner import run

SUCCESS = b'{"success":true}'


async def accept(request: Request) -> Response:
    await request.body()
    return Response(SUCCESS, media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/{path:path}", accept, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    run(create_app(), args.host, args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
