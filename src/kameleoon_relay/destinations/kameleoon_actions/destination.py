"""Kameleoon (Actions): settings, test authentication, presets, actions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from kameleoon_relay import USER_AGENT
from kameleoon_relay.actions import Destination, HttpRequest
from kameleoon_relay.destinations.kameleoon_actions.actions import GROUP, IDENTIFY, LOG_EVENT, PAGE
from kameleoon_relay.destinations.kameleoon_actions.settings import KAMELEOON_SETTINGS
from kameleoon_relay.errors import RelayError

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


def decode_api_key(api_key: Any) -> dict[str, Any]:
    """The API key's entries, decoded as the reference's test authentication decodes it.

    ValueError says what is wrong with the key, never what it is (it is a secret).
    """
    if not isinstance(api_key, str):
        raise ValueError(f"must be a string (base64 of a JSON object), got {_type_name(api_key)}")
    try:
        decoded = base64.b64decode(api_key, validate=False)
        entries = orjson.loads(decoded.decode("ascii", errors="replace"))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise ValueError("is not base64 of a JSON object, as Kameleoon API keys are") from None
    if not isinstance(entries, dict):
        raise ValueError("is base64 of JSON but not of an object, as Kameleoon API keys are")
    return entries


def settings_problems(settings: Mapping[str, Any]) -> dict[str, str]:
    """What Kameleoon would refuse in the settings, by key: each line says how to fix it."""
    problems: dict[str, str] = {}
    api_key = settings.get("apiKey")
    if api_key not in (None, ""):
        try:
            decode_api_key(api_key)
        except ValueError as error:
            problems["apiKey"] = (
                f"{error}; Kameleoon would refuse every delivery (401): "
                "copy the key again from Kameleoon"
            )
    sitecode = settings.get("sitecode")
    # A number is sent as its digits, so it may pass; leading zeros are lost, hence the hint.
    number = isinstance(sitecode, int) and not isinstance(sitecode, bool)
    if sitecode in (None, ""):
        pass
    elif not isinstance(sitecode, str) and not number:
        problems["sitecode"] = (
            f"must be a string of {SITECODE_LENGTH} characters, got {_type_name(sitecode)}"
        )
    elif len(str(sitecode)) != SITECODE_LENGTH:
        hint = "quote it in YAML" if number else "your Kameleoon project's sitecode"
        problems["sitecode"] = (
            f"must be exactly {SITECODE_LENGTH} characters, got {len(str(sitecode))} ({hint})"
        )
    return problems


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", bool: "true/false", int: "a number"}
    return names.get(type(value), "a number" if isinstance(value, float) else type(value).__name__)


def test_authentication_request(
    settings: Mapping[str, Any], endpoint: str, options: Mapping[str, Any] | None = None
) -> HttpRequest:
    """The GET that Kameleoon answers 2xx for valid credentials.

    The API key is base64 of a JSON object; its entries become the query string,
    written `key=value` joined by `&` without escaping, as the reference does.
    """
    if len(str(settings.get("sitecode", ""))) != SITECODE_LENGTH:
        raise AuthenticationError("Invalid project sitecode. Please check your sitecode")
    try:
        entries = decode_api_key(str(settings.get("apiKey", "")))
    except ValueError:
        raise AuthenticationError("Invalid API key: not base64 of a JSON object") from None
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
    check_settings=settings_problems,
    # Segment's docs: "Refer to it as Actions Kameleoon, or Kameleoon (Actions) in the
    # Integrations object"; `name` in @segment/action-destinations' metadata.
    catalog_names=("Kameleoon (Actions)", "Actions Kameleoon"),
)
