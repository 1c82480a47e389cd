"""Who may use the sandbox beyond Kameleoon's contract.

`/segmentio` and `/segmentio/getapikey` stay open, as Kameleoon's are. The rest
(the page, the event bodies it shows, visitors, fault injection) follows the admin
rules of access.py: loopback Host names (or the relay's `allowed_hosts`), changes
from its own pages only, JSON bodies declared so; then loopback callers, and, where
the relay mounts it with an `admin_token`, that token as a Bearer or a session of
the relay's logged-in dashboard.
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
        self._guards: dict[tuple[str | None, tuple[str, ...], int], AdminGuard] = {}

    def _guard(self) -> AdminGuard:
        box = self.sandbox
        key = (box.admin_token, box.allowed_hosts, id(box.throttle))
        if key not in self._guards:
            self._guards = {key: AdminGuard(box.admin_token, box.allowed_hosts, box.throttle)}
        return self._guards[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope).startswith(OPEN_PREFIXES):
            return await self.app(scope, receive, send)
        guard, request = self._guard(), Request(scope)
        refused = guard.surface_refusal(request)  # Host, Origin, JSON: for everyone
        viewer = self.sandbox.viewer
        # Loopback always, as the README says; else the token, or the mounting relay's
        # logged-in dashboard.
        if refused is None and (is_loopback(request) or (viewer and viewer(request))):
            return await self.app(scope, receive, send)
        refused = refused or guard.refusal(request, what="the sandbox's control API")
        if refused is None:
            return await self.app(scope, receive, send)
        body = orjson.dumps({"error": refused.message, "status": refused.status})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in refused.headers.items()),
        ]
        await send({"type": "http.response.start", "status": refused.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
