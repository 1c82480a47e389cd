"""The four Kameleoon (Actions) actions: fields and defaults exactly as Segment's."""

from __future__ import annotations

from kameleoon_relay.actions import Action, Field
from kameleoon_relay.destinations.kameleoon_actions.fields import (
    ANONYMOUS_ID,
    CONTEXT,
    TIMESTAMP,
    TYPE,
    USER_ID,
    first_of,
    message_id,
    path,
    visitor_code,
)
from kameleoon_relay.destinations.kameleoon_actions.request import post_event

# Identify and Group send the user's traits as `properties`.
TRAITS = Field("User Traits", "Traits to send with the event", "object", default=path("$.traits"))
TRAITS_VISITOR_CODE = visitor_code(path("$.traits.kameleoonVisitorCode"))

LOG_EVENT = Action(
    slug="logEvent",
    title="Log Event",
    description="Send a track event to Kameleoon",
    default_subscription='type = "track"',
    fields={
        "anonymousId": ANONYMOUS_ID,
        "userId": USER_ID,
        "event": Field(
            "Event Name", "The event name", "string", default=first_of("$.event", "$.name")
        ),
        "type": TYPE,
        "properties": Field(
            "Event properties or user traits",
            "Additional event Properties or user Traits to send with the event",
            "object",
            default=first_of("$.properties", "$.traits"),
        ),
        "kameleoonVisitorCode": visitor_code(
            first_of("$.properties.kameleoonVisitorCode", "$.traits.kameleoonVisitorCode")
        ),
        "timestamp": TIMESTAMP,
        "context": CONTEXT,
        "messageId": message_id(required=True),
    },
    perform=post_event,
)

IDENTIFY = Action(
    slug="identify",
    title="Identify Event",
    description="Send user traits to Kameleoon",
    default_subscription='type = "identify"',
    fields={
        "anonymousId": ANONYMOUS_ID,
        "userId": USER_ID,
        "type": TYPE,
        "properties": TRAITS,
        "kameleoonVisitorCode": TRAITS_VISITOR_CODE,
        "timestamp": TIMESTAMP,
        "messageId": message_id(required=True),
    },
    perform=post_event,
)

PAGE = Action(
    slug="page",
    title="Page Event",
    description="Send a page event to Kameleoon",
    default_subscription='type = "page"',
    fields={
        "anonymousId": ANONYMOUS_ID,
        "userId": USER_ID,
        "type": TYPE,
        "properties": Field(
            "Properties", "Page properties", "object", default=path("$.properties")
        ),
        "kameleoonVisitorCode": visitor_code(path("$.properties.kameleoonVisitorCode")),
        "name": Field("Page Name", "The name of the page", "string", default=path("$.name")),
        "context": CONTEXT,
        "timestamp": TIMESTAMP,
        "messageId": message_id(required=False),
    },
    perform=post_event,
)

GROUP = Action(
    slug="group",
    title="Group Event",
    description="Send group traits to Kameleoon",
    default_subscription='type = "group"',
    fields={
        "anonymousId": ANONYMOUS_ID,
        "userId": USER_ID,
        "type": TYPE,
        "groupId": Field(
            "Group ID", "The group id", "string", required=True, default=path("$.groupId")
        ),
        "properties": TRAITS,
        "kameleoonVisitorCode": TRAITS_VISITOR_CODE,
        "timestamp": TIMESTAMP,
        "messageId": message_id(required=True),
    },
    perform=post_event,
)
