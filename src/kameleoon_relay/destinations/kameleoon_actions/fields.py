"""Field definitions shared by the Kameleoon actions (labels as Segment shows them)."""

from __future__ import annotations

from typing import Any

from kameleoon_relay.actions import Field


def path(json_path: str) -> dict[str, str]:
    return {"@path": json_path}


def first_of(primary: str, fallback: str) -> dict[str, Any]:
    """`primary` when it exists, else `fallback`: the reference's @if/exists default."""
    return {"@if": {"exists": path(primary), "then": path(primary), "else": path(fallback)}}


ANONYMOUS_ID = Field("Anonymous ID", "Anonymous id", "string", default=path("$.anonymousId"))
USER_ID = Field("User ID", "The ID associated with the user", "string", default=path("$.userId"))
TYPE = Field("Type", "The type of the event", "string", required=True, default=path("$.type"))
TIMESTAMP = Field(
    "Timestamp",
    "The timestamp of the event",
    "string",
    required=True,
    format="date-time",
    default=path("$.timestamp"),
)
CONTEXT = Field(
    "Context properties",
    "Context properties to send with the event",
    "object",
    default=path("$.context"),
)


def visitor_code(default: Any) -> Field:
    return Field(
        "Kameleoon Visitor Code",
        "Kameleoon Visitor Code - a unique identifier for the user",
        "string",
        default=default,
    )


def message_id(required: bool) -> Field:
    return Field(
        "MessageId",
        "The Segment messageId",
        "string",
        required=required,
        default=path("$.messageId"),
    )
