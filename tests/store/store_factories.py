"""Builders for store inputs and for the config that plans them at delivery."""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson

from kameleoon_relay.config import Config, parse_config
from kameleoon_relay.store import EventRecord

API_KEY = base64.b64encode(b'{"client_id":"relay-test","client_secret":"s3cret-value"}').decode()
SITECODE = "abcdefghij"
DEMO_API_KEY = base64.b64encode(b'{"id":"demo","secret":"demo"}').decode()
DEMO_SITECODE = "demosite01"


def config_for(
    endpoints: dict[str, str],
    api_key: str = API_KEY,
    sitecode: str = SITECODE,
    database: str = "sqlite:///:memory:",
    **delivery: Any,
) -> Config:
    """Kameleoon (Actions) destinations with the presets, one per name -> endpoint."""
    return parse_config(
        {
            "sources": [{"name": "web", "write_key": "wk"}],
            "destinations": [
                {
                    "name": name,
                    "type": "kameleoon-actions",
                    "endpoint": url,
                    "settings": {"apiKey": api_key, "sitecode": sitecode},
                }
                for name, url in endpoints.items()
            ],
            "database": database,
            "delivery": delivery or None,
        },
        {},
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


def record(
    message_id: str,
    destinations: list[str] | tuple[str, ...] = ("kameleoon",),
    received_at: float | None = None,
    source: str = "web",
    event: dict[str, Any] | None = None,
    user_id: str | None = None,
    problems: tuple[str, ...] | None = None,
    user_key: str | None = None,
) -> EventRecord:
    event = event or track(message_id)
    return EventRecord(
        message_id=message_id,
        source=source,
        body=orjson.dumps(event),
        received_at=time.time() if received_at is None else received_at,
        user_id=user_id if user_id is not None else event.get("userId"),
        destinations=tuple(destinations),
        problems=problems,
        user_key=user_key,
    )
