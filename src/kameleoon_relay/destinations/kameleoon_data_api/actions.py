"""The Data API actions as data: fields with defaults (the presets' mappings) and a
small `perform` each, writing the lines Kameleoon's SDK would write."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kameleoon_relay import USER_AGENT
from kameleoon_relay.actions import (
    Action,
    ActionSkipped,
    Field,
    HttpRequest,
    PayloadValidationError,
)
from kameleoon_relay.actions.definitions import PerformContext
from kameleoon_relay.destinations.kameleoon_data_api.lines import (
    MAX_VISITOR_CODE,
    conversion_line,
    custom_data_line,
    encode_uri,
    nonce,
    page_line,
    visitor_suffix,
)
from kameleoon_relay.js.json_codec import json_stringify
from kameleoon_relay.js.numbers import number_to_string

EVENTS_PATH = "/visit/events"


def _path(json_path: str) -> dict[str, str]:
    return {"@path": json_path}


def _first_present(*paths: str) -> Any:
    """`@if exists` chained: the first path that exists wins."""
    mapping: Any = _path(paths[-1])
    for earlier in reversed(paths[:-1]):
        mapping = {"@if": {"exists": _path(earlier), "then": _path(earlier), "else": mapping}}
    return mapping


VISITOR_CODE = Field(
    "Kameleoon Visitor Code",
    f"Whose event it is (at most {MAX_VISITOR_CODE} characters)",
    "string",
    required=True,
    default=_first_present(
        "$.properties.kameleoonVisitorCode",
        "$.traits.kameleoonVisitorCode",
        "$.context.traits.kameleoonVisitorCode",
    ),
)
USER_AGENT_FIELD = Field(
    "User Agent",
    "Sent on the request's first line, as Kameleoon's SDK sends a visitor's user agent",
    "string",
    default=_path("$.context.userAgent"),
)
MESSAGE_ID = Field(
    "MessageId",
    "The Segment messageId: each line's nonce derives from it, so a retry repeats it",
    "string",
    required=True,
    default=_path("$.messageId"),
)


@functools.lru_cache(maxsize=64)
def _headers() -> Mapping[str, str]:
    return MappingProxyType({"content-type": "text/plain", "user-agent": USER_AGENT})


def events_url(endpoint: str, sitecode: str) -> str:
    return f"{endpoint}{EVENTS_PATH}?siteCode={encode_uri(sitecode)}"


def _request(context: PerformContext, lines: list[str]) -> HttpRequest:
    payload = context.payload
    code = payload["visitorCode"]
    if len(code) > MAX_VISITOR_CODE:
        raise PayloadValidationError(
            [f"Kameleoon Visitor Code must be at most {MAX_VISITOR_CODE} characters."]
        )
    # The SDK sends the user agent on a visitor's first line only.
    suffix = visitor_suffix(code, None)
    written = [line + suffix for line in lines]
    user_agent = payload.get("userAgent")
    if user_agent:
        written[0] = lines[0] + visitor_suffix(code, user_agent)
    url = events_url(context.endpoint, str(context.settings["sitecode"]))
    return HttpRequest(
        "POST", url, _headers(), None, "\n".join(written).encode(), lines=tuple(written)
    )


def _nonce(context: PerformContext, index: int) -> str:
    return nonce(context.options.get("nonce_scope", ""), context.payload["messageId"], index)


def track_conversion(context: PerformContext) -> HttpRequest:
    event = context.payload["event"]
    goal_id = context.options.get("goals", {}).get(event)
    if goal_id is None:
        raise ActionSkipped("goals", f"no goal id for event {event!r} in `goals`")
    revenue = context.payload.get("revenue", 0)
    if revenue != revenue or revenue in (float("inf"), float("-inf")):
        raise PayloadValidationError(["Revenue must be a finite number."])
    return _request(context, [conversion_line(_nonce(context, 0), goal_id, revenue)])


def _custom_values(value: Any) -> tuple[str, ...]:
    """A trait's value as the SDK's string values: a list gives one value per item."""
    items = value if isinstance(value, list) else [value]
    values: list[str] = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, str):
            values.append(item)
        elif isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, int | float):
            values.append(number_to_string(item))
        else:
            values.append(json_stringify(item))
    return tuple(values)


def set_custom_data(context: PerformContext) -> HttpRequest:
    data = context.payload["customData"]
    indexes: Mapping[str, int] = context.options.get("custom_data", {})
    lines = []
    for name, index in indexes.items():
        if name in data and data[name] is not None:
            lines.append(
                custom_data_line(_nonce(context, len(lines)), index, _custom_values(data[name]))
            )
    if not lines:
        raise ActionSkipped("custom_data", "no trait or property named in `custom_data`")
    return _request(context, lines)


def page_view(context: PerformContext) -> HttpRequest:
    payload = context.payload
    return _request(context, [page_line(_nonce(context, 0), payload["href"], payload.get("title"))])


TRACK_CONVERSION = Action(
    slug="trackConversion",
    title="Track Conversion",
    description="A track whose event is in `goals` converts that goal, with its revenue",
    default_subscription='type = "track"',
    fields={
        "event": Field(
            "Event Name", "Looked up in `goals`", "string", required=True, default=_path("$.event")
        ),
        "revenue": Field(
            "Revenue",
            "The conversion's revenue (0 when absent)",
            "number",
            default=_path("$.properties.revenue"),
        ),
        "visitorCode": VISITOR_CODE,
        "userAgent": USER_AGENT_FIELD,
        "messageId": MESSAGE_ID,
    },
    perform=track_conversion,
)

SET_CUSTOM_DATA = Action(
    slug="setCustomData",
    title="Set Custom Data",
    description="One line per trait (or property) named in `custom_data`, with overwrite=true",
    default_subscription='type = "identify" or type = "track"',
    fields={
        "customData": Field(
            "Custom data",
            "Traits or properties; those named in `custom_data` are sent by index",
            "object",
            required=True,
            default=_first_present("$.traits", "$.properties"),
        ),
        "visitorCode": VISITOR_CODE,
        "userAgent": USER_AGENT_FIELD,
        "messageId": MESSAGE_ID,
    },
    perform=set_custom_data,
)

PAGE_VIEW = Action(
    slug="pageView",
    title="Page View",
    description="A page view with its URL and title",
    default_subscription='type = "page"',
    fields={
        "href": Field(
            "URL",
            "The page's URL",
            "string",
            required=True,
            default=_first_present("$.properties.url", "$.context.page.url"),
        ),
        "title": Field(
            "Title",
            "The page's title",
            "string",
            default=_first_present("$.properties.title", "$.name"),
        ),
        "visitorCode": VISITOR_CODE,
        "userAgent": USER_AGENT_FIELD,
        "messageId": MESSAGE_ID,
    },
    perform=page_view,
)

ACTIONS = (TRACK_CONVERSION, SET_CUSTOM_DATA, PAGE_VIEW)
