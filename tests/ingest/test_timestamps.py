from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kameleoon_relay.ingest.timestamps import format_iso8601, parse_iso8601, parse_utc

MOMENTS = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1000, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
    datetime(2024, 5, 1, 12, 0, 10, 123456, tzinfo=UTC),
    datetime(2024, 5, 1, 12, 0, 10, 999, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_format_writes_what_strftime_writes(moment: datetime) -> None:
    utc = moment.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert format_iso8601(moment) == expected


@pytest.mark.parametrize(
    "text", ["2024-05-01T12:00:10.123Z", "2024-05-01T17:30:10+05:30", " 2024-05-01 12:00:10 "]
)
def test_parse_utc_is_parse_iso8601_in_utc(text: str) -> None:
    assert parse_utc(text) == parse_iso8601(text)
    assert parse_utc(text).tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "error"), [("soon", ValueError), ("0001-01-01T00:00:00+01:00", OverflowError)]
)
def test_parse_utc_raises_every_time(text: str, error: type[Exception]) -> None:
    for _ in range(2):
        with pytest.raises(error):
            parse_utc(text)
