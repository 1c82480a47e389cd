"""The one request shape every Kameleoon action sends."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import orjson

from kameleoon_relay import USER_AGENT
from kameleoon_relay.actions import HttpRequest
from kameleoon_relay.actions.definitions import PerformContext
from kameleoon_relay.js.json_codec import json_stringify
from kameleoon_relay.js.objects import without_proto_keys
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.values import JSPrototype

# A number in exponent form where orjson writes a value: after `:`, `,` or `[`, before
# `,`, `}` or `]` (orjson writes no spaces). Hex ids and UUIDs inside strings ("4e2")
# do not match, so the slow path is taken only for such numbers (or a rare lookalike).
_SIGNED_EXPONENT = re.compile(rb"e[-+][0-9]")  # a literal first byte: the fast scan
_EXPONENT = re.compile(rb"[:,\[]-?[0-9]+(?:\.[0-9]+)?e[-+]?[0-9]+[,}\]]")


_ABSENT = object()
_PROTO = b'"__proto__"'


# Who sends, said where a receiver can read it: the two destinations post the same
# endpoint, headers and (mostly) shape. Segment's Actions requests say "Segment (Actions)".
ACTIONS_USER_AGENT = f"{USER_AGENT} (Actions)"


@functools.lru_cache(maxsize=64)
def _headers(api_key: str, sitecode: str, user_agent: str) -> Mapping[str, str]:
    """The same for every event of a destination: built once, shared read-only."""
    return MappingProxyType(
        {
            "authorization": f"Basic {api_key}",
            "x-segment-settings": sitecode,
            "content-type": "application/json",
            "user-agent": user_agent,
        }
    )


def post_event(context: PerformContext, user_agent: str = ACTIONS_USER_AGENT) -> HttpRequest:
    """POST the payload with the visitor code moved into `properties`.

    The reference drops `kameleoonVisitorCode` from the top level and sets it in
    `properties` (in place when the key exists, else last); JSON omits it when absent.
    """
    payload = context.payload
    code = payload.get("kameleoonVisitorCode")
    properties = payload.get("properties") or {}
    if type(properties) is JSPrototype:  # String.prototype, ...: spread, it has no own keys
        properties = {}
    # Copied only to change it: usually the code is already there (it is mapped from it).
    if code is None:
        if "kameleoonVisitorCode" in properties:
            properties = {k: v for k, v in properties.items() if k != "kameleoonVisitorCode"}
    elif properties.get("kameleoonVisitorCode", _ABSENT) is not code:
        properties = {**properties, "kameleoonVisitorCode": code}
    body = dict(payload)  # key order kept; `properties` stays in place or comes last
    body.pop("kameleoonVisitorCode", None)
    body["properties"] = properties
    settings = context.settings
    headers = _headers(settings["apiKey"], str(settings["sitecode"]), user_agent)
    body, encoded = encode_body(body)
    return HttpRequest("POST", context.endpoint, headers, body, encoded)


def encode_body(body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The body as JSON.stringify writes it, and the body that text stands for.

    orjson writes it when it can; a `__proto__` key (from an event: Segment never
    forwards one) is dropped, found in the bytes so the common body costs no walk.
    """
    try:
        encoded = orjson.dumps(body)
    except orjson.JSONEncodeError:
        # A lone UTF-16 surrogate (sliced out of a string by a mapping), a built-in
        # function or prototype (read through an inherited name), or more than orjson's
        # 255 levels: JSON.stringify's rules decide, and the body shown is what is sent.
        encoded = json_stringify(body).encode()
        body = deep_call(json.loads, encoded)
    else:
        # orjson always signs its exponents: a quick scan rules most bodies out.
        if _SIGNED_EXPONENT.search(encoded) and _EXPONENT.search(encoded):
            # orjson writes 1e-7 and 1.8446744073709552e+19 where JS writes 1e-7 and
            # 18446744073709552000 (and 0.000001 for 1e-6); JSON.stringify's rules decide.
            # A string that merely looks like one costs a slower, identical encoding.
            encoded = json_stringify(body).encode()
    if _PROTO in encoded:
        stripped = without_proto_keys(body)
        if stripped is not body:  # else only a string held the word
            return encode_body(stripped)
    return body, encoded


# Where Kameleoon (and the sandbox) look for the visitor code in a body we send.
VISITOR_CODE_KEYS = ("kameleoonVisitorCode", "k_visitorCode")
TRAITS_CALLS = ("identify", "group")


def visitor_warning(body: object) -> str | None:
    """Why Kameleoon may not know whose event `body` is, or None when it carries the code.

    The sandbox falls back to userId, then anonymousId, and refuses a body with
    none of them ("no visitor"); Kameleoon itself needs the code.
    """
    if not isinstance(body, dict):
        return None
    properties = body.get("properties")
    if isinstance(properties, dict) and any(properties.get(k) for k in VISITOR_CODE_KEYS):
        return None
    # Identify and group calls carry it in traits: their presets read it there.
    where = "traits" if body.get("type") in TRAITS_CALLS else "properties"
    advice = (
        'include it in the event, or map kameleoonVisitorCode (e.g. {"@path": '
        f'"$.{where}.kameleoonVisitorCode"}})'
    )
    if not body.get("userId") and not body.get("anonymousId"):
        return (
            "no properties.kameleoonVisitorCode, userId or anonymousId: no visitor to credit "
            f'(the sandbox refuses it: "no visitor"); {advice}'
        )
    return (
        "no properties.kameleoonVisitorCode: Kameleoon needs it to match the visitor "
        f"(the sandbox falls back to userId/anonymousId); {advice}"
    )
