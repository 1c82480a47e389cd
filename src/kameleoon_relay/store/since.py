"""The `since` of a replay, as people type it: an ISO 8601 time or a duration ago."""

from __future__ import annotations

from datetime import UTC, datetime

from kameleoon_relay.config.loader import parse_duration


def parse_since(text: str, now: float) -> float:
    """Epoch seconds from `2024-05-01T12:00:00Z`, `2024-05-01` (UTC when no offset is
    given) or a duration before `now` such as `2h`, `30m`, `1d`. ValueError otherwise."""
    text = text.strip()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected an ISO 8601 time (2024-05-01T12:00:00Z) "
            "or a duration ago (2h, 30m, 1d)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
