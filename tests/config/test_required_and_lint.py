"""Issue 19, missing 2: a mapping that cannot produce a required field is refused with
the field's name; what Segment accepts but is surely wrong is a warning, not an error."""

from __future__ import annotations

from typing import Any

import pytest

from kameleoon_relay.config import ConfigError, parse_config
from kameleoon_relay.config.lint import config_warnings
from kameleoon_relay.fql.lint import trigger_warnings
from kameleoon_relay.mapping.lint import mapping_warnings
from tests.e2e.stack import SANDBOX_API_KEY

FULL_LOG_EVENT = {
    "event": {"@path": "$.event"},
    "type": {"@path": "$.type"},
    "kameleoonVisitorCode": {"@path": "$.properties.kameleoonVisitorCode"},
    "timestamp": {"@path": "$.timestamp"},
    "messageId": {"@path": "$.messageId"},
}


def document(*subscriptions: dict[str, Any]) -> dict[str, Any]:
    return {
        "sources": [{"name": "web", "write_key": "wk"}],
        "destinations": [
            {
                "name": "kameleoon",
                "type": "kameleoon-actions",
                "endpoint": "http://127.0.0.1:9/segmentio",
                "settings": {"apiKey": SANDBOX_API_KEY, "sitecode": "demosite01"},
                "subscriptions": list(subscriptions),
            }
        ],
    }


def subscription(mapping: Any, trigger: str = 'type = "track"', action: str = "logEvent"):
    return {"name": "S", "trigger": trigger, "action": action, "mapping": mapping}


@pytest.mark.parametrize("missing", ["timestamp", "messageId", "type"])
def test_a_mapping_without_a_required_field_is_refused_naming_it(missing: str) -> None:
    mapping = {key: value for key, value in FULL_LOG_EVENT.items() if key != missing}
    with pytest.raises(ConfigError) as caught:
        parse_config(document(subscription(mapping)), {})
    (problem,) = caught.value.problems
    assert problem.startswith(f"destinations[0].subscriptions[0].mapping.{missing}: ")
    assert f"required field '{missing}'" in problem
    assert f'{missing}: {{"@path":"$.' in problem  # the default mapping, as the fix


def test_a_null_required_field_is_refused_and_a_full_mapping_or_the_default_pass() -> None:
    for value in (None, {"@literal": None}):
        with pytest.raises(ConfigError, match="required field 'messageId'"):
            parse_config(document(subscription({**FULL_LOG_EVENT, "messageId": value})), {})
    parse_config(document(subscription(FULL_LOG_EVENT)), {})
    parse_config(document(subscription(None)), {})  # the default mapping has them all
    group = {"type": {"@path": "$.type"}, "timestamp": {"@path": "$.timestamp"}}
    with pytest.raises(ConfigError) as caught:
        parse_config(document(subscription(group, 'type = "group"', "group")), {})
    assert {p.split(": ")[0].rsplit(".", 1)[1] for p in caught.value.problems} == {
        "groupId",
        "messageId",
    }


@pytest.mark.parametrize(
    ("trigger", "words"),
    [
        ('event == "Signed Up"', "never matches"),
        ('type = "track" and', "ends with `and`"),
        ('type = "track" or', "ends with `or`"),
        ("type = track", 'quote it, `type = "track"`'),
        ('properties.plan != = "pro"', "never matches"),
    ],
)
def test_surely_wrong_triggers_are_warnings(trigger: str, words: str) -> None:
    (warning,) = trigger_warnings(trigger)
    assert words in warning
    config = parse_config(document(subscription(None, trigger)), {})  # still accepted
    assert config_warnings(config) == [f"destinations[0].subscriptions[0].trigger: {warning}"]


@pytest.mark.parametrize(
    "trigger",
    [
        'type = "track"',
        'type = "track" and event = "Order Completed"',
        "properties.vip = true",
        "properties.coupon != null",
        'event = "a" or (event = "b" and properties.n = 3)',
    ],
)
def test_ordinary_triggers_have_no_warning(trigger: str) -> None:
    assert trigger_warnings(trigger) == []


def test_mapping_warnings_exist_and_unclosed_liquid() -> None:
    mapping = {
        **FULL_LOG_EVENT,
        "userId": {"@if": {"exist": {"@path": "$.userId"}, "then": {"@path": "$.userId"}}},
        "event": {"@liquid": "{{ event | upcase "},
        "properties": {"plan": {"@liquid": "{% if traits.plan %}{{ traits.plan }}"}},
    }
    config = parse_config(document(subscription(mapping)), {})
    warnings = config_warnings(config)
    where = "destinations[0].subscriptions[0].mapping"
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith(f"{where}.event.@liquid: `{{{{` at character 1 is never")
    assert warnings[1].startswith(f"{where}.userId.@if: `exist` is not a condition")
    closed = {"@liquid": "{% if a %}{{ a }}{% endif %}"}
    fine = {"@if": {"exists": {"@path": "$.a"}, "then": 1, "else": 2}}
    assert mapping_warnings({"x": closed, "y": fine}) == []
    assert mapping_warnings({"p": {"q": [{"@liquid": "{% if x "}]}})[0].startswith(
        "mapping.p.q[0].@liquid: `{%` at character 1"
    )
