"""The classic Kameleoon destination (our definition: Segment's code for it is not public).

Page, Screen and Track only; Screen is sent with type `screenview`. The visitor
code comes from `k_visitorCode` (properties, then traits), else the userId, and
travels where Kameleoon (Actions) puts it: `properties.kameleoonVisitorCode`.
Same endpoint, headers and authentication as Actions, but for its user-agent, which
says it is the classic destination. The body:

    {"anonymousId", "userId", "event" (track) | "name" (page, screen), "type",
     "properties": {..., "kameleoonVisitorCode"}, "timestamp", "context", "messageId"}
"""

from __future__ import annotations

from typing import Any

from kameleoon_relay import USER_AGENT
from kameleoon_relay.actions import Action, Destination, Field, HttpRequest
from kameleoon_relay.actions.definitions import PerformContext
from kameleoon_relay.destinations.kameleoon_actions.destination import (
    settings_problems,
    test_authentication_request,
)
from kameleoon_relay.destinations.kameleoon_actions.fields import (
    ANONYMOUS_ID,
    CONTEXT,
    TIMESTAMP,
    USER_ID,
    path,
)
from kameleoon_relay.destinations.kameleoon_actions.request import post_event
from kameleoon_relay.destinations.kameleoon_actions.settings import KAMELEOON_SETTINGS

CLASSIC_CALL_TYPES = ("track", "page", "screen")
CLASSIC_USER_AGENT = f"{USER_AGENT} (Kameleoon classic)"  # which destination sent it


def post_classic_event(context: PerformContext) -> HttpRequest:
    return post_event(context, CLASSIC_USER_AGENT)


def _first_present(*paths: str) -> Any:
    """`@if exists` chained: the first path that exists wins."""
    mapping: Any = path(paths[-1])
    for earlier in reversed(paths[:-1]):
        mapping = {"@if": {"exists": path(earlier), "then": path(earlier), "else": mapping}}
    return mapping


_VISITOR_CODE = Field(
    "Kameleoon Visitor Code",
    "k_visitorCode from properties, then traits, else the userId",
    "string",
    default=_first_present(
        "$.properties.k_visitorCode",
        "$.properties.kameleoonVisitorCode",
        "$.traits.k_visitorCode",
        "$.context.traits.k_visitorCode",
        "$.userId",
    ),
)
_PROPERTIES = Field("Properties", "Event properties", "object", default=path("$.properties"))
_MESSAGE_ID = Field(
    "MessageId", "The Segment messageId", "string", required=True, default=path("$.messageId")
)


def _action(slug: str, title: str, sent_type: Any, name_field: tuple[str, Field]) -> Action:
    key, field = name_field
    return Action(
        slug=slug,
        title=title,
        description=f"Send {slug} calls to Kameleoon as `{sent_type['@literal']}`",
        default_subscription=f'type = "{slug}"',
        fields={
            "anonymousId": ANONYMOUS_ID,
            "userId": USER_ID,
            key: field,
            "type": Field(
                "Type", "The type sent to Kameleoon", "string", required=True, default=sent_type
            ),
            "properties": _PROPERTIES,
            "kameleoonVisitorCode": _VISITOR_CODE,
            "timestamp": TIMESTAMP,
            "context": CONTEXT,
            "messageId": _MESSAGE_ID,
        },
        perform=post_classic_event,
    )


_EVENT_NAME = (
    "event",
    Field("Event Name", "The event name", "string", required=True, default=path("$.event")),
)
_PAGE_NAME = ("name", Field("Name", "The page or screen name", "string", default=path("$.name")))

KAMELEOON_CLASSIC = Destination(
    name="Kameleoon",
    slug="kameleoon-classic",
    description="The classic Kameleoon destination: Page, Screen and Track calls",
    settings=KAMELEOON_SETTINGS,
    actions={
        action.slug: action
        for action in (
            _action("track", "Track", {"@literal": "track"}, _EVENT_NAME),
            _action("page", "Page", {"@literal": "page"}, _PAGE_NAME),
            _action("screen", "Screen", {"@literal": "screenview"}, _PAGE_NAME),
        )
    },
    presets=(
        ("Track Calls", 'type = "track"', "track"),
        ("Page Calls", 'type = "page"', "page"),
        ("Screen Calls", 'type = "screen"', "screen"),
    ),
    default_endpoint="https://integrations.kameleoon.com/segmentio",
    test_authentication=test_authentication_request,
    check_settings=settings_problems,
    identity_linking_default=True,
    configurable_subscriptions=False,
    linked_code_key="k_visitorCode",
    handles_only=CLASSIC_CALL_TYPES,
    catalog_names=("Kameleoon",),  # the classic destination's catalog name in Segment's docs
)
