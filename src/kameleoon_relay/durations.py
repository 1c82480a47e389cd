"""Durations and moments as people type them in configs and on the command line."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*$")


def parse_rate(value: Any) -> float:
    """Events per second from `200/s` or `12000/min`."""
    match = _RATE.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a rate such as 200/s or 12000/min")
    per_second = match.group(2) in ("s", "sec", "second")
    return float(match.group(1)) / (1.0 if per_second else 60.0)


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like `4h`, `30m`, `10s`, `250ms`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 4h, 30m or 10")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 4h, 30m, 10s or 250ms")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_moment(text: str, now: float, option: str = "--since") -> float:
    """Epoch seconds from `2024-05-01T12:00:00Z`, `2024-05-01` (UTC when no offset is
    given) or a duration before `now` such as `2h`, `30m`, `1d`. ValueError otherwise."""
    text = text.strip()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(
            f"{option} {text!r}: expected an ISO 8601 time (2024-05-01T12:00:00Z) "
            "or a duration ago (2h, 30m, 1d)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
