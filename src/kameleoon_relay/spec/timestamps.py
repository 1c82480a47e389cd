"""ISO-8601 parsing and formatting the way Segment writes timestamps."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso8601(text: str) -> datetime:
    """Parse an ISO-8601 date-time; naive values are taken as UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_iso8601(moment: datetime) -> str:
    """`2024-05-01T12:00:00.000Z`: UTC, milliseconds, as Segment stores them."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
