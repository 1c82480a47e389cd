"""The deliveries list's filters, read once for the page and for replaying what it lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kameleoon_relay.admin.routes import DELIVERY_STATES
from kameleoon_relay.delivery.replay import ReplaySelection
from kameleoon_relay.store import REPLAY_STATES, DeliveryQuery
from kameleoon_relay.web import params  # the admin API's parameter rules

FILTERS = ("state", "destination", "action", "event", "message_id", "user_id", "since", "until")


def chosen(values: Mapping[str, Any]) -> dict[str, str]:
    """Each filter's text as given ("" when absent or not text)."""
    return {
        name: value.strip() if isinstance(value := values.get(name), str) else ""
        for name in FILTERS
    }


def delivery_query(chosen: dict[str, str], before: str = "") -> DeliveryQuery:
    """ValueError (one line) for a filter that cannot be read."""
    if chosen["state"] and chosen["state"] not in DELIVERY_STATES:
        raise ValueError(f"state must be one of {', '.join(DELIVERY_STATES)}")
    return DeliveryQuery(
        states=(chosen["state"],) if chosen["state"] else (),
        destination=params.text(chosen["destination"], "destination"),
        action=params.text(chosen["action"], "action"),
        event=params.text(chosen["event"], "event"),
        message_id=params.text(chosen["message_id"], "message_id"),
        user_id=params.text(chosen["user_id"], "user_id"),
        since=params.epoch(chosen["since"], "since"),
        until=params.epoch(chosen["until"], "until"),
        before_id=params.cursor(before),
    )


def replay_selection(chosen: dict[str, str]) -> ReplaySelection:
    """What replaying a filtered list selects: its finished deliveries (any state: all
    of them). ValueError for a list of unfinished ones: they are on their way already."""
    state = chosen["state"] or "all"
    if state not in REPLAY_STATES:
        finished = ", ".join(s for s in REPLAY_STATES if s != "all")
        raise ValueError(f"only finished deliveries ({finished}) can be replayed, not {state}")
    return ReplaySelection(
        state,
        since=params.epoch(chosen["since"], "since"),
        until=params.epoch(chosen["until"], "until"),
        destination=params.text(chosen["destination"], "destination"),
        message_id=params.text(chosen["message_id"], "message_id"),
        user_id=params.text(chosen["user_id"], "user_id"),
        action=params.text(chosen["action"], "action"),
        event=params.text(chosen["event"], "event"),
    )
