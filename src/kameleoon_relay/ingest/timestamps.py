"""ISO-8601 parsing and formatting the way Segment writes timestamps."""

from __future__ import annotations

import functools
from datetime import UTC, datetime


def parse_iso8601(text: str) -> datetime:
    """Parse an ISO-8601 date-time; naive values are taken as UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=1024)
def parse_utc(text: str) -> datetime:
    """parse_iso8601 in UTC; OverflowError when that leaves years 1 to 9999.

    Cached: a batch's events share one sentAt, and each time is read twice (validated,
    then skew-corrected). Errors are not cached, so hostile text cannot fill it faster.
    """
    return parse_iso8601(text).astimezone(UTC)


def format_iso8601(moment: datetime) -> str:
    """`2024-05-01T12:00:00.000Z`: UTC, milliseconds, as Segment stores them."""
    utc = moment.astimezone(UTC)
    # %-formatting costs a third of strftime, same text: the year unpadded below 1000,
    # as glibc's %Y writes it.
    return "%d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond // 1000,
    )
