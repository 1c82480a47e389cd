"""Builders for store inputs: ingest items whose planned deliveries look like the pipeline's."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson

from kameleoon_relay.actions import ActionError, HttpRequest
from kameleoon_relay.pipeline import PlannedDelivery
from kameleoon_relay.store import IngestItem

API_KEY = base64.b64encode(b'{"client_id":"relay-test","client_secret":"s3cret-value"}').decode()
SITECODE = "abcdefghij"


def request_for(
    url: str, event: dict[str, Any], api_key: str = API_KEY, sitecode: str = SITECODE
) -> HttpRequest:
    return HttpRequest(
        method="POST",
        url=url,
        headers={"authorization": f"Basic {api_key}", "x-segment-settings": sitecode},
        json=event,
        body=orjson.dumps(event),  # as the Kameleoon actions build it
    )


def planned(
    destination: str = "kameleoon",
    url: str = "http://127.0.0.1:9/segmentio",
    event: dict[str, Any] | None = None,
    action: str = "logEvent",
    subscription: str = "Track Calls",
    error: str | None = None,
    api_key: str = API_KEY,
    sitecode: str = SITECODE,
) -> PlannedDelivery:
    if error is not None:
        return PlannedDelivery(
            destination, subscription, action, None, ActionError("PayloadValidationError", error)
        )
    return PlannedDelivery(
        destination, subscription, action, request_for(url, event or {}, api_key, sitecode), None
    )


def track(message_id: str, name: str = "Signed Up", visitor: str = "visitor-1") -> dict[str, Any]:
    return {
        "type": "track",
        "event": name,
        "messageId": message_id,
        "anonymousId": visitor,
        "properties": {"kameleoonVisitorCode": visitor},
        "timestamp": "2024-01-01T00:00:00.000Z",
    }


def item(
    message_id: str,
    destinations: list[str] | tuple[str, ...] = ("kameleoon",),
    url: str = "http://127.0.0.1:9/segmentio",
    received_at: float | None = None,
    source: str = "web",
    error: str | None = None,
    api_key: str = API_KEY,
    sitecode: str = SITECODE,
    event: dict[str, Any] | None = None,
) -> IngestItem:
    event = event or track(message_id)
    return IngestItem(
        message_id=message_id,
        source=source,
        event=event,
        received_at=time.time() if received_at is None else received_at,
        planned=[
            planned(name, url, event, error=error, api_key=api_key, sitecode=sitecode)
            for name in destinations
        ],
    )
