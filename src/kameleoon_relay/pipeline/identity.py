"""Visitor-code linking: `Kameleoon identifier` ties a user's ids to a visitor code.

The seed of the classic destination: `analytics.track('Kameleoon identifier',
{k_visitorCode: ...})` links the userId and anonymousId to Kameleoon's visitor
code; later events of those ids that carry no code get the linked one.

Ingest decides what an event does (`linking_of`); the store links or looks up in the
transaction that stores the event, so the order of events at ingest decides the code
and duplicates or refused requests link nothing. `IdentityMap` does the same in memory
for previews of a stream of events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Linking:
    """What an event does to the links: link its ids to `code`, or look a code up."""

    ids: tuple[str, ...] = ()
    code: str | None = None  # set for an identifier event
    lookup: bool = False  # the event carries no code: the linked one may fill it


NO_LINKING = Linking()


def linking_of(event: Mapping[str, Any]) -> Linking:
    """The linking intent of an event, for a source whose destinations link identities."""
    ids = tuple(event_ids(event))
    if not ids:
        return NO_LINKING
    code = identifier_code(event)
    if code:
        return Linking(ids, code=code)
    if carried_code(event):
        return NO_LINKING
    return Linking(ids, lookup=True)


class IdentityMap:
    """id -> visitor code in memory; the newest link wins, replaced links are counted."""

    def __init__(self, links: Mapping[str, str] | None = None) -> None:
        self._codes: dict[str, str] = dict(links or {})
        self.conflicts = 0

    def __len__(self) -> int:
        return len(self._codes)

    def apply(self, linking: Linking) -> str | None:
        """Link, or return the code linked to the first id that has one."""
        if linking.code:
            for key in linking.ids:
                previous = self._codes.get(key)
                self.conflicts += previous is not None and previous != linking.code
                self._codes[key] = linking.code
            return None
        if linking.lookup:
            for key in linking.ids:
                if key in self._codes:
                    return self._codes[key]
        return None


def with_code(event: dict[str, Any], code: str, container: str, key: str) -> dict[str, Any]:
    """A copy of `event` carrying `code` at `container.key` (other fields shared)."""
    inner = event.get(container)
    updated = dict(inner) if isinstance(inner, dict) else {}
    updated[key] = code
    return {**event, container: updated}
