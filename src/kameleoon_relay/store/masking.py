"""The one place where secrets in stored requests are masked before anyone sees them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization"})
MASK = "***"


def mask_header_value(value: str) -> str:
    """`Basic abc==` -> `Basic ***`: keep the scheme, which says how to debug, drop the secret."""
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {MASK}" if sep else MASK


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: mask_header_value(value) if name.lower() in SECRET_HEADERS else value
        for name, value in headers.items()
    }


def mask_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a stored request dict (`method`, `url`, `headers`, `json`) safe to show."""
    return {**request, "headers": mask_headers(request.get("headers") or {})}


def secrets_in(headers: Mapping[str, str]) -> list[str]:
    """The secret parts of a request's headers, to scrub from text we did not write."""
    found = []
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            secret = value.partition(" ")[2] or value
            if len(secret) >= 4:  # scrubbing tiny strings would mangle unrelated text
                found.append(secret)
    return found


def scrub(text: str, secrets: list[str]) -> str:
    """Remove known secrets from free text (an echoed response body, an error message)."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
