"""The one place secrets are masked before anything is shown, logged or stored for display.

Request headers are masked by name; free text we did not write (a destination's
answer may echo our key) is scrubbed of the credentials the request carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MASK = "***"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key"})
_MIN_SCRUBBED = 4  # scrubbing tiny strings would mangle unrelated text


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials replaced: `Basic <key>` becomes `Basic ***`."""
    masked: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            scheme, _, credential = value.partition(" ")
            masked[name] = f"{scheme} {MASK}" if credential else MASK
        else:
            masked[name] = value
    return masked


def mask_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """A request dict (`method`, `url`, `headers`, `json`) safe to show."""
    shown = dict(request)
    if isinstance(shown.get("headers"), Mapping):
        shown["headers"] = mask_headers(shown["headers"])
    return shown


_SECRET_SETTING_WORDS = ("key", "secret", "token", "password")


def mask_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Destination settings safe to show: credential-like entries (`apiKey`) masked."""
    return {
        key: MASK if value and any(w in key.lower() for w in _SECRET_SETTING_WORDS) else value
        for key, value in settings.items()
    }


def secrets_in(headers: Mapping[str, str]) -> list[str]:
    """The credential parts of a request's headers (`Basic <key>` -> `<key>`)."""
    found = []
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            secret = value.partition(" ")[2] or value
            if len(secret) >= _MIN_SCRUBBED:
                found.append(secret)
    return found


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every known secret replaced by the mask."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
