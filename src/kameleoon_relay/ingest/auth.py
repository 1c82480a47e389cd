"""Where a write key travels: the Basic-auth user name (the admin side is `access`).

Write keys are matched by `Config.source_for_write_key`; both it and the token
check use `hmac.compare_digest`, so that timing does not reveal a near guess.
"""

from __future__ import annotations

import base64
import binascii

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
