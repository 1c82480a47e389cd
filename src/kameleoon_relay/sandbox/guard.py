"""Who may use the sandbox beyond Kameleoon's contract.

`/segmentio` and `/segmentio/getapikey` stay open, as Kameleoon's are. The rest
(the page, the event bodies it shows, visitors, fault injection) answers loopback,
and, where the relay mounts it with an `admin_token`, that token as a Bearer or a
session of the relay's logged-in dashboard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from kameleoon_relay.access import AdminGuard, is_loopback
from kameleoon_relay.sandbox.faults_middleware import route_path

if TYPE_CHECKING:
    from kameleoon_relay.sandbox.state import Sandbox

# Kameleoon's own contracts: the Segment endpoint and the Data API (tokens, events).
OPEN_PREFIXES = ("/segmentio", "/oauth/", "/visit/")


class ControlsGuard:
    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox
        self._guards: dict[str | None, AdminGuard] = {}

    def _guard(self) -> AdminGuard:
        token = self.sandbox.admin_token
        if token not in self._guards:
            self._guards = {token: AdminGuard(token)}
        return self._guards[token]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope).startswith(OPEN_PREFIXES):
            return await self.app(scope, receive, send)
        guard, request = self._guard(), Request(scope)
        viewer = self.sandbox.viewer
        # Loopback always, as the README says; else the token, or the mounting relay's
        # logged-in dashboard.
        if is_loopback(request) or guard.allows(request) or (viewer and viewer(request)):
            return await self.app(scope, receive, send)
        if guard.configured:
            status, message = 401, "admin token required"
            extra = [(b"www-authenticate", b"Bearer")]
        else:
            status, message = 403, "the sandbox's controls answer on loopback only"
            extra = []
        body = orjson.dumps({"error": message, "status": status})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
