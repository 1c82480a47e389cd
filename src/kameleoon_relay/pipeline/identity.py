"""Visitor-code linking: `Kameleoon identifier` ties a user's ids to a visitor code.

The seed of the classic destination: `analytics.track('Kameleoon identifier',
{k_visitorCode: ...})` links the userId and anonymousId to Kameleoon's visitor
code; later events of those ids that carry no code get the linked one. The map
lives in memory while planning (pure, no I/O); links made while planning an
event are handed to the store with that event, so they are durable together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

IDENTIFIER_EVENT = "Kameleoon identifier"
CODE_KEYS = ("k_visitorCode", "kameleoonVisitorCode")


def _key(kind: str, value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, dict | list | bool):
        return None
    return f"{kind}:{value}"


def event_ids(event: Mapping[str, Any]) -> list[str]:
    keys = [_key("userId", event.get("userId")), _key("anonymousId", event.get("anonymousId"))]
    return [key for key in keys if key]


def carried_code(event: Mapping[str, Any]) -> str | None:
    """A visitor code the event carries itself, wherever Segment users put it."""
    containers = (
        event.get("properties"),
        event.get("traits"),
        (event.get("context") or {}).get("traits")
        if isinstance(event.get("context"), dict)
        else None,
    )
    for container in containers:
        if isinstance(container, dict):
            for key in CODE_KEYS:
                code = container.get(key)
                if isinstance(code, str) and code:
                    return code
    return None


def identifier_code(event: Mapping[str, Any]) -> str | None:
    """The code an identifier event links, or None when this is not one."""
    if event.get("type") != "track" or event.get("event") != IDENTIFIER_EVENT:
        return None
    return carried_code(event)


class IdentityMap:
    """id -> visitor code; the newest link wins, and replaced links are counted."""

    def __init__(self, links: Mapping[str, str] | None = None, conflicts: int = 0) -> None:
        self._codes: dict[str, str] = dict(links or {})
        self.conflicts = conflicts
        self._pending: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self._codes)

    def lookup(self, event: Mapping[str, Any]) -> str | None:
        for key in event_ids(event):
            code = self._codes.get(key)
            if code:
                return code
        return None

    def link(self, event: Mapping[str, Any], code: str) -> int:
        """Link the event's ids to `code`; returns how many earlier links it replaced."""
        replaced = 0
        for key in event_ids(event):
            previous = self._codes.get(key)
            if previous == code:
                continue
            if previous is not None:
                replaced += 1
            self._codes[key] = code
            self._pending.append((key, code))
        self.conflicts += replaced
        return replaced

    def copy(self) -> IdentityMap:
        """An independent map with the same links (for previews that must not link)."""
        return IdentityMap(self._codes, self.conflicts)

    def take_pending(self) -> list[tuple[str, str]]:
        """Links made since the last call, for the store to persist with their event."""
        pending, self._pending = self._pending, []
        return pending


def with_code(event: dict[str, Any], code: str, container: str, key: str) -> dict[str, Any]:
    """A copy of `event` carrying `code` at `container.key` (other fields shared)."""
    inner = event.get(container)
    updated = dict(inner) if isinstance(inner, dict) else {}
    updated[key] = code
    return {**event, container: updated}
