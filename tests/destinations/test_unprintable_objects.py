"""Objects V8 cannot print fail the delivery, as they fail Segment's.

An object whose `toString` is an own key (JSON never makes it a function), or a copy
given a null prototype by its `"__proto__": null` key (the mapping-kit copies by
assigning keys), has no usable toString: where the reference prints one (`@template`,
`@if` with `blank`, liquid) V8 throws a TypeError and executeAction rejects, so
nothing is sent. Each case runs through `@segment/action-destinations` and our pipeline.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kameleoon_relay.config import parse_config
from kameleoon_relay.ingest import normalize_event
from kameleoon_relay.pipeline import Pipeline
from tests.helpers.oracle import run_oracle

SETTINGS = {"apiKey": "a2V5", "sitecode": "1q2w3e4r5t"}
MESSAGE = "Cannot convert object to primitive value"
COPY = {"@transform": {"apply": {"x": {"@path": "$.properties"}}, "mapping": {"@path": "$.x"}}}

# (event name field's mapping, properties): each fails in the reference.
FAILING = [
    ({"@template": "{{properties}}"}, {"toString": "x"}),  # an own toString
    ({"@template": "{{properties.tags}}"}, {"tags": [{"toString": 1}]}),  # in an array's join
    ({"@if": {"blank": {"@path": "$.properties"}, "then": "a", "else": "b"}}, {"toString": 0}),
    ({"@if": {"blank": COPY, "then": "a", "else": "b"}}, {"__proto__": None}),  # null prototype
    (
        {
            "@transform": {
                "apply": {"x": {"@path": "$.properties"}},
                "mapping": {"@template": "{{x}}"},
            }
        },
        {"__proto__": None},
    ),
]
# The same shapes the reference prints: a primitive __proto__ is ignored, an inherited
# array prints as its join, a valueOf key is never called.
PRINTING = [
    ({"@if": {"blank": COPY, "then": "a", "else": "b"}}, {"__proto__": "s"}, "a"),
    ({"@if": {"blank": COPY, "then": "a", "else": "b"}}, {"__proto__": []}, "b"),
    ({"@template": "{{properties}}"}, {"valueOf": "x"}, "[object Object]"),
    (
        {
            "@transform": {
                "apply": {"x": {"@path": "$.properties"}},
                "mapping": {"@template": "{{x.a}}"},
            }
        },
        {"__proto__": {"a": 5}},
        "5",
    ),
]


def _case(event_field: Any, properties: dict[str, Any]) -> dict[str, Any]:
    mapping = {
        "event": event_field,
        "type": {"@path": "$.type"},
        "properties": {"@path": "$.properties"},
        "userId": {"@path": "$.userId"},
        "messageId": {"@path": "$.messageId"},
        "timestamp": {"@path": "$.timestamp"},
    }
    event = {
        "type": "track",
        "event": "Buy",
        "userId": "u1",
        "messageId": "m1",
        "timestamp": "2024-05-01T12:00:00.000Z",
        "properties": properties,
    }
    return {"action": "logEvent", "mapping": mapping, "event": event, "settings": SETTINGS}


def _plan(case: dict[str, Any]) -> Any:
    subscription = {
        "name": "s",
        "trigger": 'type = "track"',
        "action": "logEvent",
        "mapping": case["mapping"],
    }
    destination = {
        "name": "k",
        "type": "kameleoon-actions",
        "settings": SETTINGS,
        "endpoint": "http://127.0.0.1:9/segmentio",
        "subscriptions": [subscription],
    }
    config = {"sources": [{"name": "web", "write_key": "w"}], "destinations": [destination]}
    pipeline = Pipeline(parse_config(config, {}))
    # The event as ingest reads it from the wire: JSON.parse keeps `__proto__` as a key.
    (entry,) = pipeline.plan(normalize_event(orjson.loads(orjson.dumps(case["event"]))), "web")
    return entry


@pytest.fixture(scope="module")
def references() -> list[Any]:
    cases = [_case(f, p) for f, p in FAILING] + [_case(f, p) for f, p, _ in PRINTING]
    return run_oracle("destination_oracle.js", cases)


@pytest.mark.parametrize("index", range(len(FAILING)))
def test_the_delivery_fails_as_the_reference_does(index: int, references: list[Any]) -> None:
    assert references[index] == {"error": {"name": "TypeError", "message": MESSAGE}}
    entry = _plan(_case(*FAILING[index]))
    assert entry.request is None
    assert entry.error.to_dict() == {"type": "MappingError", "message": MESSAGE}


@pytest.mark.parametrize("index", range(len(PRINTING)))
def test_printable_shapes_are_sent_as_the_reference_sends_them(
    index: int, references: list[Any]
) -> None:
    field, properties, expected = PRINTING[index]
    reference = references[len(FAILING) + index]
    entry = _plan(_case(field, properties))
    assert entry.error is None
    assert orjson.loads(reference["request"]["body"])["event"] == expected
    assert orjson.loads(entry.request.body) == orjson.loads(reference["request"]["body"])
