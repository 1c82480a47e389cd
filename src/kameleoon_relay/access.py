"""Who may call the admin side: a bearer token when one is configured, else loopback only.

Shared by the relay (admin API, dashboard, /metrics) and the sandbox (its page and
controls). The token is compared with `hmac.compare_digest`, so timing reveals nothing.
"""

from __future__ import annotations

import hmac
from ipaddress import ip_address

from starlette.requests import Request


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class AdminGuard:
    """Bearer token when one is configured; otherwise loopback callers only."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    @property
    def configured(self) -> bool:
        return self._token is not None

    def allows(self, request: Request) -> bool:
        if self._token is None:
            return is_loopback(request)
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self._token
        )
