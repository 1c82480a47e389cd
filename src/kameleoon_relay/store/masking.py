"""Scrubbing secrets out of free text we did not write (a destination's echoed answer).

Masking of request headers lives in `kameleoon_relay.secrets`, the one place for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from kameleoon_relay.secrets import MASK

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key"})


def secrets_in(headers: Mapping[str, str]) -> list[str]:
    """The credential parts of a request's headers (`Basic <key>` -> `<key>`)."""
    found = []
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            secret = value.partition(" ")[2] or value
            if len(secret) >= 4:  # scrubbing tiny strings would mangle unrelated text
                found.append(secret)
    return found


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every known secret replaced by the mask."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
