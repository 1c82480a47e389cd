"""ASGI middleware that injects the configured faults into Kameleoon's tracking
endpoints only: `/segmentio` and the Data API's `/visit/events`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kameleoon_relay.sandbox.faults import Fault
from kameleoon_relay.sandbox.reset import find_transport, reset_connection

if TYPE_CHECKING:
    from kameleoon_relay.sandbox.state import Sandbox

log = logging.getLogger(__name__)


def route_path(scope: Scope) -> str:
    """The path below the mount point (`/sandbox` when mounted in the relay)."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


class FaultMiddleware:
    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = route_path(scope)
        if not path.startswith(("/segmentio", "/visit/events")):
            return await self.app(scope, receive, send)
        store = self.sandbox.store
        event = path.rstrip("/") == "/segmentio" and scope["method"] == "POST"
        if event:
            store.count("received")  # /visit/events counts its own
        faults = self.sandbox.faults
        delay = faults.latency()
        if delay:
            await asyncio.sleep(delay)
        fault, status = faults.draw()
        if fault is None and event and faults.over_rate():
            fault = Fault.RATE_LIMIT
        if fault is None:
            return await self.app(scope, receive, send)
        store.count(f"fault_{fault.value}")
        self.sandbox.schedule_commit()
        if fault is Fault.TIMEOUT:
            # Hang past the client's timeout, then answer as if merely slow: a client
            # that retried meanwhile produces a duplicate, as against the real service.
            # The body is read first, so the event survives the client hanging up.
            replay = await _buffered(receive)
            await asyncio.sleep(faults.settings.hang_seconds)
            return await self.app(scope, replay, send)
        if fault is Fault.RESET:
            transport = find_transport(send, scope.get("client"))
            if transport is not None:
                reset_connection(transport)
                await asyncio.sleep(0)  # let the server see the connection is gone
                return
            log.warning("sandbox: cannot reach the connection to reset; answering 502")
            status = 502
        headers = [(b"content-type", b"application/json")]
        if fault is Fault.RATE_LIMIT:
            status = 429
            headers.append((b"retry-after", str(faults.settings.retry_after).encode()))
        body = orjson.dumps({"error": f"injected fault: {fault.value}", "status": status})
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _buffered(receive: Receive) -> Receive:
    """Read the whole request now; the returned `receive` replays it, then defers."""
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body"):
            break

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay
