"""Parsing the admin API's ids, limits and query parameters: bad input is a 4xx, never a 500.

`str.isdigit()` is true for "²" and "٣", which `int()` then refuses or reads as
another number; SQLite refuses integers past 2**63 - 1. Everything here checks
ASCII digits and ranges first.
"""

from __future__ import annotations

import time
from typing import Any

from kameleoon_relay.durations import parse_moment
from kameleoon_relay.errors import RelayError

MAX_ID = 2**63 - 1  # SQLite's INTEGER PRIMARY KEY range
_MAX_DIGITS = 19
SHOWN_CHARS = 40  # of a bad value echoed in an error


class InvalidParamError(RelayError, ValueError):
    """A bad parameter: answered with `status` and this message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def shown(raw: str) -> str:
    return raw if len(raw) <= SHOWN_CHARS else raw[:SHOWN_CHARS] + "…"


def ascii_int(raw: str) -> int | None:
    """`raw` as a non-negative integer written in ASCII digits (at most 19), else None."""
    if not raw or len(raw) > _MAX_DIGITS or not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def delivery_id(raw: str) -> int:
    """A delivery id; InvalidParamError 404 for anything that cannot name one."""
    number = ascii_int(raw)
    if number is None or not 1 <= number <= MAX_ID:
        raise InvalidParamError(f"no delivery {shown(raw)}", status=404)
    return number


def limit(raw: str | None, maximum: int, default: int = 50) -> int:
    if raw is None:
        return default
    number = ascii_int(raw)
    if number is None or not 1 <= number <= maximum:
        raise InvalidParamError(f"limit must be an integer from 1 to {maximum}")
    return number


def choice(raw: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    """An optional enumerated parameter (empty means absent)."""
    if not raw:
        return None
    if raw not in allowed:
        raise InvalidParamError(f"{name} must be one of {', '.join(allowed)}")
    return raw


def text(raw: str | None, name: str) -> str | None:
    """An optional free-text filter (empty means absent). NUL is refused: PostgreSQL
    cannot hold it in text, and no stored id has one (ingest refuses them)."""
    if not raw:
        return None
    if "\x00" in raw:
        raise InvalidParamError(f"{name} must not contain a NUL character")
    return raw


def epoch(value: Any, name: str = "since") -> float | None:
    """A moment: an ISO 8601 date-time (UTC unless an offset is given), epoch seconds,
    or a duration ago (`2h`, `1d`), as epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    problem = f"{name} must be an ISO 8601 date-time, epoch seconds or a duration ago (2h)"
    if not isinstance(value, str):
        raise InvalidParamError(problem)
    try:
        return parse_moment(value, time.time(), name)
    except (ValueError, OverflowError):
        raise InvalidParamError(problem) from None


def cursor(raw: str | None) -> int | None:
    """`before`: the last delivery id of the previous page."""
    if raw is None or raw == "":
        return None
    number = ascii_int(raw)
    if number is None or not 1 <= number <= MAX_ID:
        raise InvalidParamError("before must be a delivery id")
    return number
