from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from kameleoon_relay.ingest import SpecError, as_js_value, normalize_event, validate_event
from kameleoon_relay.js.numbers import number_to_string

RECEIVED = datetime(2024, 5, 1, 12, 0, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"type": "track", "userId": "u"}, "event: required for track calls"),
        ({"type": "group", "userId": "u"}, "groupId: required for group calls"),
        ({"type": "alias", "userId": "u"}, "previousId: required for alias calls"),
        ({"type": "page"}, "userId or anonymousId: one of them is required"),
        ({"type": "identify", "userId": "u", "traits": []}, "traits: must be an object, got array"),
        ({"type": "page", "userId": "u", "name": 5}, "name: must be a string, got number"),
        ({"type": "sneeze", "userId": "u"}, "type: must be one of"),
        ({"type": "page", "userId": "u", "timestamp": "soon"}, "timestamp: 'soon' is not"),
        ({"type": "page", "userId": {"id": 1}}, "userId: must be a string, got object"),
    ],
)
def test_each_violation_names_its_field(event: dict, problem: str) -> None:
    problems = validate_event(event)
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(SpecError) as raised:
        normalize_event(event, RECEIVED)
    assert problem in str(raised.value)


def test_every_problem_is_reported_at_once() -> None:
    problems = validate_event({"type": "track", "properties": 3, "context": "x"})
    assert len(problems) == 4


def test_non_object_event_is_rejected() -> None:
    assert validate_event([1]) == ["event: must be a JSON object, got array"]


def test_fills_message_id_received_at_and_corrects_clock_skew() -> None:
    event = normalize_event(
        {
            "type": "track",
            "event": "E",
            "userId": "u",
            "timestamp": "2024-05-01T11:00:00.000Z",
            "sentAt": "2024-05-01T11:00:05.000Z",
        },
        RECEIVED,
    )
    assert event["messageId"].startswith("api-")
    assert event["receivedAt"] == "2024-05-01T12:00:10.000Z"
    # The device clock ran an hour behind: receivedAt - (sentAt - timestamp).
    assert event["timestamp"] == "2024-05-01T12:00:05.000Z"
    assert event["originalTimestamp"] == "2024-05-01T11:00:00.000Z"


def test_timestamp_defaults_to_received_at_and_keeps_given_values() -> None:
    bare = normalize_event({"type": "page", "anonymousId": "a"}, RECEIVED)
    assert bare["timestamp"] == bare["receivedAt"] == "2024-05-01T12:00:10.000Z"
    kept = normalize_event(
        {"type": "page", "anonymousId": "a", "messageId": "m", "timestamp": "2024-01-01T00:00:00Z"},
        RECEIVED,
    )
    assert kept["messageId"] == "m" and kept["timestamp"] == "2024-01-01T00:00:00Z"


def test_js_value_shape_matches_javascript_serialisation() -> None:
    value = {"b": 1, "10": 2.0, "2": [1.5, 2**60], "01": -0.0}
    assert orjson.dumps(as_js_value(value)) == (
        b'{"2":[1.5,1152921504606847000],"10":2,"b":1,"01":0}'
    )


def test_js_value_converts_what_is_nested_deep_in_objects_and_arrays() -> None:
    value = {
        "b": {
            "x": [1.0, -0.0, 1e21, 2**53 + 1, 2**53, -(2**60), 1.5, 3, True, None],
            "y": {"k": "v", "n": 7},
            "z": [{"0": 1, "10": 2.0, "01": 3, "b": [4.0]}],
        },
        "7": "seven",
        "a": [[2.0]],
    }
    assert orjson.dumps(as_js_value(value)) == (
        b'{"7":"seven","b":{"x":[1,0,1e+21,9007199254740992,9007199254740992,'
        b'-1152921504606847000,1.5,3,true,null],"y":{"k":"v","n":7},'
        b'"z":[{"0":1,"10":2,"01":3,"b":[4]}]},"a":[[2]]}'
    )


def test_js_value_shares_what_needs_no_change_and_never_mutates_its_input() -> None:
    plain = {"s": "x", "n": 2**53, "f": 0.5, "t": True, "z": None, "l": ["a", 1], "o": {"k": 1}}
    assert as_js_value(plain) is plain
    value = {"keep": {"k": [1]}, "change": {"f": 1.0, "1": "one"}, "list": [{"a": 2.0}, ["x"]]}
    before = repr(value)
    converted = as_js_value(value)
    assert repr(value) == before  # same values, same key order
    assert converted["keep"] is value["keep"]
    assert converted["list"][1] is value["list"][1]
    assert converted["change"] == {"1": "one", "f": 1} and list(converted["change"]) == ["1", "f"]


def test_normalize_event_returns_a_new_top_level_and_leaves_the_raw_event_alone() -> None:
    raw = {"type": "track", "event": "E", "userId": "u", "properties": {"p": 1}}
    before = repr(raw)
    event = normalize_event(raw, RECEIVED)
    assert event is not raw and repr(raw) == before
    assert event["properties"] == {"p": 1}


@pytest.mark.parametrize("depth", [63, 64, 65])
def test_the_event_depth_is_checked_by_the_conversion_walk(depth: int) -> None:
    nested: dict = {}
    for _ in range(depth - 2):
        nested = {"a": nested}
    raw = {"type": "track", "event": "E", "userId": 5, "properties": nested}
    if depth <= 64:
        assert normalize_event(raw, RECEIVED)["properties"] == nested
        return
    with pytest.raises(SpecError) as raised:  # every problem still named, the depth first
        normalize_event({**raw, "name": 3}, RECEIVED)
    assert raised.value.problems == [
        "properties.a.a.….a.a.a: nested deeper than 64 levels",
        "name: must be a string, got number",
    ]


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (100.0, "100"),
        (123456789012345680000.0, "123456789012345680000"),
        (-2.5e-9, "-2.5e-9"),
    ],
)
def test_js_number_strings(number: float, text: str) -> None:
    assert number_to_string(number) == text
