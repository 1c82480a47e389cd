from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from kameleoon_relay.js import number_to_string
from kameleoon_relay.spec import SpecError, as_js_value, normalize_event, validate_event

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
