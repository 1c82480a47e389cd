"""Numbers, nesting and dates at the edges (issue #11), at the unit level: what ingest
keeps, what it refuses and with which words, and the bytes Kameleoon then receives."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kameleoon_relay.actions.definitions import PerformContext
from kameleoon_relay.destinations.kameleoon_actions.request import post_event
from kameleoon_relay.ingest import SpecError, normalize_event
from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.json_codec import json_stringify
from kameleoon_relay.js.objects import as_js_value
from kameleoon_relay.js.values import MAX_NESTING

BASE = {"type": "track", "event": "e", "userId": "u"}


@pytest.mark.parametrize(
    ("text", "javascript"),
    [
        (b"18446744073709551615", "18446744073709552000"),  # 2**64 - 1
        (b"18446744073709551616", "18446744073709552000"),
        (b"-9223372036854775809", "-9223372036854776000"),
        (b"123456789012345678901234567890", "1.2345678901234568e+29"),
        (b"9007199254740993", "9007199254740992"),
        (b"0.000001", "0.000001"),
        (b"1e-7", "1e-7"),
        (b"1e21", "1e+21"),
    ],
)
def test_numbers_are_kept_as_javascript_reads_them_and_sent_as_it_writes_them(
    text: bytes, javascript: str
) -> None:
    event = normalize_event({**BASE, "properties": {"x": orjson.loads(text)}})
    orjson.dumps(event)  # the store can write it
    request = post_event(
        PerformContext({"properties": event["properties"]}, {"apiKey": "k", "sitecode": "s"}, "u")
    )
    assert request.body == b'{"properties":{"x":' + javascript.encode() + b"}}"


def test_the_skew_correction_leaving_the_date_range_names_the_field() -> None:
    raw = {**BASE, "timestamp": "0001-01-01T00:00:00Z", "sentAt": "9999-12-31T00:00:00Z"}
    with pytest.raises(SpecError) as caught:
        normalize_event(raw)
    assert caught.value.problems[0].startswith("timestamp: correcting '0001-01-01T00:00:00Z'")


def test_nesting_is_refused_naming_the_path() -> None:
    deep: Any = 1
    for _ in range(70):
        deep = {"a": deep}
    with pytest.raises(SpecError) as caught:
        normalize_event({**BASE, "properties": {"p": deep}})
    assert caught.value.problems == ["properties.p.a.….a.a.a: nested deeper than 64 levels"]


@pytest.mark.parametrize("function", [as_js_value, json_stringify])
def test_js_helpers_refuse_past_their_limit_instead_of_overflowing_the_stack(function) -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(NestingTooDeepError, match=f"deeper than {MAX_NESTING}"):
        function(deep)
