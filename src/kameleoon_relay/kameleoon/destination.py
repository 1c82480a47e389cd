"""Kameleoon (Actions): settings, test authentication, presets, actions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from kameleoon_relay import USER_AGENT
from kameleoon_relay.actions import Destination, HttpRequest
from kameleoon_relay.errors import RelayError
from kameleoon_relay.kameleoon.actions import GROUP, IDENTIFY, LOG_EVENT, PAGE
from kameleoon_relay.kameleoon.settings import KAMELEOON_SETTINGS

DEFAULT_ENDPOINT = "https://integrations.kameleoon.com/segmentio"
SITECODE_LENGTH = 10


class AuthenticationError(RelayError, ValueError):
    """Settings that cannot pass Kameleoon's test authentication."""


def _js_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if item is None else _js_string(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_authentication_request(settings: Mapping[str, Any], endpoint: str) -> HttpRequest:
    """The GET that Kameleoon answers 2xx for valid credentials.

    The API key is base64 of a JSON object; its entries become the query string,
    written `key=value` joined by `&` without escaping, as the reference does.
    """
    if len(str(settings.get("sitecode", ""))) != SITECODE_LENGTH:
        raise AuthenticationError("Invalid project sitecode. Please check your sitecode")
    try:
        decoded = base64.b64decode(str(settings.get("apiKey", "")), validate=False)
        entries = orjson.loads(decoded.decode("ascii", errors="replace"))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise AuthenticationError("Invalid API key: not base64 of a JSON object") from None
    if not isinstance(entries, dict):
        raise AuthenticationError("Invalid API key: not base64 of a JSON object")
    query = "&".join(f"{key}={_js_string(value)}" for key, value in entries.items())
    url = f"{endpoint}/getapikey?{query}"
    return HttpRequest("GET", url, {"user-agent": USER_AGENT}, None)


KAMELEOON_ACTIONS = Destination(
    name="Kameleoon (Actions)",
    slug="actions-kameleoon",
    description="Send Segment events to Kameleoon",
    settings=KAMELEOON_SETTINGS,
    actions={action.slug: action for action in (LOG_EVENT, IDENTIFY, GROUP, PAGE)},
    presets=(
        ("Track Calls", 'type = "track"', "logEvent"),
        ("Page Calls", 'type = "page"', "page"),
        ("Group Calls", 'type = "group"', "group"),
        ("Identify Calls", 'type = "identify"', "identify"),
    ),
    default_endpoint=DEFAULT_ENDPOINT,
    test_authentication=test_authentication_request,
)
