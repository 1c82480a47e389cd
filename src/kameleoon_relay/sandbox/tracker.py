"""What Kameleoon does with a Segment event, as the seeds describe it.

- a track event whose name is an existing goal converts that goal for the visitor;
  otherwise the custom goal `SegmentIO {type} - {event}` is created once and converted;
- the visitor is the visitor code (`kameleoonVisitorCode`, or the classic
  `k_visitorCode`), else the visitor linked to the userId / anonymousId by a
  `Kameleoon identifier` event, else the userId, else the anonymousId;
- page and screen(view) events are views; identify and group traits are custom
  data; Engage audience traits (`snake_case_key: true/false`) are memberships;
- a repeated messageId is counted as a duplicate and changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kameleoon_relay.engage import audience_trait
from kameleoon_relay.errors import RelayError
from kameleoon_relay.sandbox.config import SandboxConfig
from kameleoon_relay.sandbox.store import Store

IDENTIFIER_EVENT = "Kameleoon identifier"
CODE_KEYS = ("kameleoonVisitorCode", "k_visitorCode")
VIEW_KINDS = {"page": "page", "screen": "screen", "screenview": "screen"}


class EventRejected(RelayError, ValueError):
    """The event is valid JSON but Kameleoon could not use it (answered with 400)."""


@dataclass(frozen=True)
class Outcome:
    outcome: str  # converted | viewed | traits | linked | duplicate
    visitor: str | None = None
    goal: str | None = None
    goal_created: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "outcome": self.outcome,
            "visitor": self.visitor,
            "goal": self.goal,
            "goal_created": self.goal_created,
        }


class Tracker:
    def __init__(self, store: Store, config: SandboxConfig) -> None:
        self.store = store
        self._sender: str | None = None
        for sitecode, site in config.sitecodes().items():
            for goal in site.goals:
                store.ensure_goal(sitecode, goal, custom=False)
        store.commit()

    def handle(
        self, sitecode: str, body: dict[str, Any], raw: bytes, sender: str | None = None
    ) -> Outcome:
        kind = body.get("type")
        if not isinstance(kind, str) or not kind:
            raise EventRejected("`type` is required and must be a string")
        properties = body.get("properties")
        if properties is None:
            properties = {}
        elif not isinstance(properties, dict):
            raise EventRejected("`properties` must be an object")
        message_id = body.get("messageId")
        if message_id is not None and not isinstance(message_id, str):
            raise EventRejected("`messageId` must be a string")
        code = _visitor_code(body, properties)
        name = _event_name(body)
        self._sender = sender  # logged with each row of this event
        if kind == "track" and name == IDENTIFIER_EVENT:
            return self._link(sitecode, body, code, message_id, raw)
        visitor = self._resolve(sitecode, body, code)

        now, store = time.time(), self.store
        if self._is_duplicate(sitecode, message_id, kind, name, visitor, raw, now):
            return Outcome("duplicate", visitor)
        store.touch_visitor(sitecode, visitor, now)
        if kind in VIEW_KINDS:
            view_name = name or _text(properties.get("path")) or _text(properties.get("url"))
            store.view(sitecode, visitor, VIEW_KINDS[kind], view_name or "(unnamed)", now)
            outcome = Outcome("viewed", visitor)
        elif kind in ("identify", "group"):
            outcome = self._traits(sitecode, visitor, kind, body, properties, now)
        else:
            outcome = self._convert(sitecode, visitor, kind, name, now)
        store.count("accepted")
        store.log_event(
            (now, sitecode, message_id, kind, name, visitor, outcome.outcome, outcome.goal, raw),
            sender=self._sender,
        )
        return outcome

    def _is_duplicate(
        self,
        sitecode: str,
        message_id: str | None,
        kind: str,
        name: str | None,
        visitor: str,
        raw: bytes,
        now: float,
    ) -> bool:
        """Record the messageId; a repeat is counted and logged, and changes nothing else."""
        if message_id is None or self.store.first_seen(sitecode, message_id):
            return False
        self.store.count("duplicates")
        row = (now, sitecode, message_id, kind, name, visitor, "duplicate", None, raw)
        self.store.log_event(row, sender=self._sender)
        return True

    def _resolve(self, sitecode: str, body: dict[str, Any], code: str | None) -> str:
        if code:
            return code
        user_id, anonymous_id = _text(body.get("userId")), _text(body.get("anonymousId"))
        for ident_kind, ident in (("userId", user_id), ("anonymousId", anonymous_id)):
            if ident and (linked := self.store.linked(sitecode, ident_kind, ident)):
                return linked
        visitor = user_id or anonymous_id
        if not visitor:
            raise EventRejected(
                "no visitor: give properties.kameleoonVisitorCode, userId or anonymousId"
            )
        return visitor

    def _link(
        self,
        sitecode: str,
        body: dict[str, Any],
        code: str | None,
        message_id: str | None,
        raw: bytes,
    ) -> Outcome:
        if not code:
            raise EventRejected(f"`{IDENTIFIER_EVENT}` needs properties.k_visitorCode")
        store, now = self.store, time.time()
        if self._is_duplicate(sitecode, message_id, "track", IDENTIFIER_EVENT, code, raw, now):
            return Outcome("duplicate", code)
        for ident_kind in ("userId", "anonymousId"):
            if ident := _text(body.get(ident_kind)):
                store.link(sitecode, ident_kind, ident, code)
        store.touch_visitor(sitecode, code, now)
        store.count("accepted")
        store.log_event(
            (now, sitecode, message_id, "track", IDENTIFIER_EVENT, code, "linked", None, raw),
            sender=self._sender,
        )
        return Outcome("linked", code)

    def _convert(
        self, sitecode: str, visitor: str, kind: str, name: str | None, now: float
    ) -> Outcome:
        if not name:
            raise EventRejected(f"a {kind} event needs `event` (or `name`) to convert a goal")
        store = self.store
        goal_id = store.goal_id(sitecode, name)
        goal, created = name, False
        if goal_id is None:
            goal = f"SegmentIO {kind} - {name}"
            goal_id = store.goal_id(sitecode, goal)
            if goal_id is None:
                goal_id, created = store.ensure_goal(sitecode, goal, custom=True), True
        store.convert(sitecode, visitor, goal_id, now)
        return Outcome("converted", visitor, goal, created)

    def _traits(
        self,
        sitecode: str,
        visitor: str,
        kind: str,
        body: dict[str, Any],
        properties: dict[str, Any],
        now: float,
    ) -> Outcome:
        traits = {k: v for k, v in properties.items() if k not in CODE_KEYS}
        if kind == "group":
            group_id = _text(body.get("groupId"))
            if not group_id:
                raise EventRejected("a group event needs `groupId`")
            self.store.set_traits(sitecode, visitor, group_id, traits)
            return Outcome("traits", visitor)
        audiences = {
            # An audience key is a name as Engage writes it: already its own snake_case.
            k: v
            for k, v in traits.items()
            if isinstance(v, bool) and audience_trait(k) == k
        }
        for key, member in audiences.items():
            self.store.set_audience(sitecode, visitor, key, member, now)
        custom = {k: v for k, v in traits.items() if k not in audiences}
        self.store.set_traits(sitecode, visitor, "", custom)
        return Outcome("traits", visitor)


# What a request says about who sent it: its user-agent (ours name the destination,
# Segment's Actions say "Segment (Actions)"), then a type only one destination sends.
_ACTIONS_AGENTS = ("(Actions)",)
_CLASSIC_AGENTS = ("(Kameleoon classic)",)
_ACTIONS_ONLY_TYPES = ("identify", "group")  # the classic one sends page, screen, track
_CLASSIC_ONLY_TYPES = ("screenview",)


def sender_of(user_agent: str | None, body: Any) -> str:
    """Which destination sent a request, from what the request itself says (the path is
    the route's: the Data API has its own), and the client (user-agent): "classic · …",
    "actions · …", or "unknown · …" when nothing says (the body's properties do not: an
    event's own `k_visitorCode` reaches Kameleoon (Actions) unchanged)."""
    agent_text = user_agent or ""
    kind = body.get("type") if isinstance(body, dict) else None
    if any(mark in agent_text for mark in _ACTIONS_AGENTS):
        who = "actions"
    elif any(mark in agent_text for mark in _CLASSIC_AGENTS):
        who = "classic"
    elif kind in _ACTIONS_ONLY_TYPES:
        who = "actions"
    elif kind in _CLASSIC_ONLY_TYPES:
        who = "classic"
    else:
        who = "unknown"
    agent = agent_text.split(" ")[0].split("/")[0] or "unknown client"
    return f"{who} · {agent}"


def _visitor_code(body: dict[str, Any], properties: dict[str, Any]) -> str | None:
    for key in CODE_KEYS:
        if code := _text(properties.get(key)):
            return code
    return _text(body.get("kameleoonVisitorCode"))


def _event_name(body: dict[str, Any]) -> str | None:
    return _text(body.get("event")) or _text(body.get("name"))


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # numeric ids are common in the wild
    return None
