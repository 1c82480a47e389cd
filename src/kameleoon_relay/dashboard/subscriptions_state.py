"""Each subscription's own state in one delivery: its latest attempt says it.

A delivery with one failed and one delivered subscription is `failed` as a whole, and
its last status may be the delivered one's 200: the page shows each one apart.
"""

from __future__ import annotations

from typing import Any


def subscription_states(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per subscription (in first-attempt order): its latest outcome, status, error, when."""
    latest: dict[str, dict[str, Any]] = {}
    for attempt in history:
        name = attempt.get("subscription")
        if not name:  # filtered before any subscription: the delivery's state says it
            continue
        latest[name] = {
            "subscription": name,
            "action": attempt.get("action"),
            "state": attempt.get("outcome"),
            "status": attempt.get("status"),
            "error": attempt.get("error"),
            "at": attempt.get("attempted_at"),
        }
    return list(latest.values())
