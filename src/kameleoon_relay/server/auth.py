"""Who may call: where a write key travels, and the admin API's bearer token (or loopback).

Write keys are matched by `Config.source_for_write_key`; both it and the token
check use `hmac.compare_digest`, so that timing does not reveal a near guess.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from ipaddress import ip_address

from starlette.requests import Request


def basic_user(request: Request) -> str | None:
    """The user name of `Authorization: Basic ...` (Segment puts the write key there)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        # ValueError: non-ASCII in the header (HTTP headers arrive as latin-1 text).
        return None
    return decoded.partition(":")[0] or None


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
