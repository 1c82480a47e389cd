"""Unit tests for the mapping-kit, directive by directive, and its validation messages."""

from __future__ import annotations

from typing import Any

import pytest

from kameleoon_relay.js.json_codec import json_stringify
from kameleoon_relay.js.numbers import number_to_string
from kameleoon_relay.mapping import (
    UNDEFINED,
    MappingError,
    MappingEvaluationError,
    validate_mapping,
)
from kameleoon_relay.mapping.compile import compile_js_mapping as compile_mapping

EVENT: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u1",
    "properties": {
        "name": "Hello World",
        "price": 1.5,
        "zero": 0,
        "empty": "",
        "nil": None,
        "tags": ["a", "b"],
        "items": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 2}],
        "Mixed Case": "mc",
        "nested": {"a": {"b": 1}, "n": None},
    },
}


def run(mapping: Any, event: dict[str, Any] | None = None) -> Any:
    return compile_mapping(mapping)(EVENT if event is None else event)


# @path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.properties.name", "Hello World"),
        ("properties.name", "Hello World"),
        ("$.properties.tags[1]", "b"),
        ("$.properties.tags.length", 2),
        ("$.properties.name.length", 11),
        ("$.properties['Mixed Case']", "mc"),
        ("$.properties.items[0].sku", "x"),
        ("$.properties.zero.deeper", 0),  # a falsy value met on the way is returned
        ("$.properties.nil.deeper", None),
        ("$", UNDEFINED),
        ("a.$.event", UNDEFINED),  # only the first "$." is dropped: path "a.event"
    ],
)
def test_path_follows_the_reference_get(path: str, expected: Any) -> None:
    assert run({"@path": path}) == expected or run({"@path": path}) is expected


def test_path_root_returns_the_whole_event() -> None:
    assert run({"@path": "$."}) == EVENT


def test_missing_keys_are_left_out_of_objects_but_arrays_keep_a_null() -> None:
    out = run({"a": {"@path": "$.nope"}, "b": [{"@path": "$.nope"}], "c": None})
    assert out == {"b": [None], "c": None}


def test_path_must_resolve_to_a_string() -> None:
    with pytest.raises(MappingEvaluationError, match="@path: expected string, got number"):
        run({"@path": {"@path": "$.properties.price"}})


def test_top_level_arrays_are_spread_into_objects_like_the_reference() -> None:
    assert run(["x", {"@path": "$.event"}]) == {"0": "x", "1": "Order Completed"}


# @template


def test_template_renders_paths_and_stringifies_like_javascript() -> None:
    out = run({"@template": "{{event}}|{{ properties.tags }}|{{{properties.price}}}|{{x}}"})
    assert out == "Order Completed|a,b|1.5|"
    assert run({"@template": "{{properties.nested}}"}) == "[object Object]"


# @if


def test_if_exists_then_else() -> None:
    mapping = {"@if": {"exists": {"@path": "$.properties.nil"}, "then": "yes", "else": "no"}}
    assert run(mapping) == "no"
    mapping["@if"]["exists"] = {"@path": "$.properties.zero"}
    assert run(mapping) == "yes"


def test_if_blank_uses_loose_equality_with_the_empty_string() -> None:
    blank = {"@if": {"blank": {"@path": "$.properties.zero"}, "then": "set", "else": "blank"}}
    assert run(blank) == "blank"  # 0 == '' in JavaScript
    blank["@if"]["blank"] = {"@path": "$.properties.tags"}
    assert run(blank) == "set"


def test_if_with_a_falsy_else_yields_undefined() -> None:
    assert run({"@if": {"exists": {"@path": "$.nope"}, "else": 0}}) is UNDEFINED


def test_if_without_exists_or_blank_fails_when_evaluated() -> None:
    fn = compile_mapping({"x": {"@if": {"then": 1}}})  # valid: the reference checks late
    with pytest.raises(MappingEvaluationError, match='"exists" key or a "blank" key'):
        fn(EVENT)


# @case, @replace


def test_case_changes_strings_and_passes_other_values() -> None:
    assert run({"@case": {"operator": "upper", "value": {"@path": "$.event"}}}) == "ORDER COMPLETED"
    assert run({"@case": {"operator": "lower", "value": {"@path": "$.properties.price"}}}) == 1.5


def test_replace_is_literal_global_and_knows_javascript_dollar_forms() -> None:
    value = {"@path": "$.properties.name"}
    assert run({"@replace": {"pattern": "o", "replacement": "0", "value": value}}) == "Hell0 W0rld"
    once = {"pattern": "o", "replacement": "[$&]", "global": False, "value": value}
    assert run({"@replace": once}) == "Hell[o] World"
    nocase = {"pattern": "L", "replacement": "_", "ignorecase": True, "value": value}
    assert run({"@replace": nocase}) == "He__o Wor_d"
    two = {"pattern": "l", "replacement": "", "pattern2": "o", "replacement2": ".*", "value": value}
    assert run({"@replace": two}) == "He.* W.*rd"
    assert run({"@replace": {"pattern": ".", "value": "a.b"}}) == "ab"


def test_replace_stringifies_numbers_and_blanks_other_values() -> None:
    price = {"@path": "$.properties.price"}
    assert run({"@replace": {"pattern": ".", "replacement": ",", "value": price}}) == "1,5"
    assert run({"@replace": {"pattern": "x", "value": {"@path": "$.properties.tags"}}}) == ""


# @arrayPath, @literal, @flatten, @json, @merge, @transform, @excludeWhenNull


def test_array_path_maps_each_item() -> None:
    shape = {"id": {"@path": "$.sku"}, "n": {"@path": "qty"}}
    out = run({"@arrayPath": ["$.properties.items", shape]})
    assert out == [{"id": "x", "n": 1}, {"id": "y", "n": 2}]
    assert run({"@arrayPath": ["$.properties.nested", {"x": {"@path": "$.a.b"}}]}) == [{"x": 1}]


def test_literal_resolves_directives_inside_it() -> None:
    assert run({"@literal": {"a": {"@path": "$.event"}, "b": [1]}}) == {
        "a": "Order Completed",
        "b": [1],
    }


def test_flatten_objects_and_optionally_arrays() -> None:
    value = {"@path": "$.properties.nested"}
    assert run({"@flatten": {"separator": "_", "value": value}}) == {"a_b": 1, "n": None}
    tags = {"@path": "$.properties"}
    flat = run({"@flatten": {"separator": ".", "value": tags, "omitArrays": True}})
    assert flat["tags"] == ["a", "b"]
    assert run({"@flatten": {"separator": ".", "value": tags}})["tags.1"] == "b"


def test_json_encode_and_decode() -> None:
    encoded = run({"@json": {"mode": "encode", "value": {"@path": "$.properties.nested"}}})
    assert encoded == '{"a":{"b":1},"n":null}'
    assert run({"@json": {"mode": "decode", "value": '{"x":[1,2.5]}'}}) == {"x": [1, 2.5]}
    assert run({"@json": {"mode": "decode", "value": "not json"}}) == "not json"


def test_merge_right_wins_unless_left() -> None:
    objects = [{"a": 1, "b": 1}, {"b": 2}]
    assert run({"@merge": {"objects": objects, "direction": "right"}}) == {"a": 1, "b": 2}
    assert run({"@merge": {"objects": objects, "direction": "left"}}) == {"a": 1, "b": 1}


def test_merge_with_an_undefined_value_removes_the_key() -> None:
    objects = [{"a": 1}, {"a": {"@path": "$.nope"}}]
    assert run({"@merge": {"objects": objects, "direction": "right"}}) == {}


def test_transform_maps_the_result_of_apply() -> None:
    mapping = {"apply": {"n": {"@path": "$.properties.name"}}, "mapping": {"x": {"@path": "$.n"}}}
    assert run({"@transform": mapping}) == {"x": "Hello World"}


def test_exclude_when_null_drops_nulls_in_objects() -> None:
    assert run({"a": {"@excludeWhenNull": {"@path": "$.properties.nil"}}}) == {}
    out = run({"@excludeWhenNull": {"@path": "$.properties.nested"}})
    assert out == {"a": {"b": 1}}


# @liquid


def test_liquid_renders_with_the_event_as_scope() -> None:
    assert run({"@liquid": "{{ properties.name | upcase }}!"}) == "HELLO WORLD!"
    assert run({"@liquid": "{{ properties.tags }}"}) == "ab"
    assert run({"@liquid": "{{ 10 | divided_by: 4 }}"}) == "2.5"


@pytest.mark.parametrize(
    "template",
    [
        "{% for t in properties.tags %}{{ t }}{% endfor %}",
        "{{ properties.tags | sort }}",
        "x" * 1001,
    ],
)
def test_liquid_refuses_disabled_tags_filters_and_long_templates(template: str) -> None:
    with pytest.raises(MappingEvaluationError):
        run({"@liquid": template})


# Validation


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"a": {"@nope": 1}}, "/a has an invalid directive: @nope."),
        (
            {"a": {"@path": "x", "b": 1}},
            "/a should only have one @-prefixed key but it has 2 keys.",
        ),
        (
            {"a": {"@path": "x", "@template": "y"}},
            "/a should only have one @-prefixed key but it has 2 keys.",
        ),
        (
            {"a": {"@path": 1}},
            "/a/@path should be a string or a mapping directive but it is a number.",
        ),
        ({"a": {"@if": "x"}}, "/a/@if should be an object but it is a string."),
        ({"a": {"@if": {"then": {"@x": 1}}}}, "/a/@if/then has an invalid directive: @x."),
        (
            {"a": {"@replace": {"pattern": "", "value": "v"}}},
            "/a/@replace/pattern should be a string of length 1 or greater.",
        ),
        (
            {"a": {"@replace": {"pattern": "p"}}},
            '/a/@replace should have field "value" but it doesn\'t.',
        ),
        (
            {"a": {"@json": {"mode": "x", "value": 1}}},
            '/a/@json/mode should be one of encode, decode but it is "x".',
        ),
        (
            {"a": {"@merge": {"objects": [1]}}},
            "/a/@merge/objects/0 should be a object or a mapping directive but it is a number.",
        ),
        ({"a": {"@liquid": 1}}, "/a/@liquid should be a string but it is a number."),
    ],
)
def test_validation_names_the_location_of_each_problem(mapping: Any, problem: str) -> None:
    assert problem in validate_mapping(mapping)
    with pytest.raises(MappingError) as caught:
        compile_mapping(mapping)
    assert problem in caught.value.problems


def test_validation_collects_every_problem() -> None:
    mapping = {
        "a": {"@nope": 1},
        "b": {"@case": {"operator": 1, "value": 2}},
        "c": {"d": {"@flatten": {"value": 1, "separator": 2}}},
    }
    assert validate_mapping(mapping) == [
        "/a has an invalid directive: @nope.",
        "/b/@case/operator should be a string but it is a number.",
        "/b/@case/value should be a string or a mapping directive but it is a number.",
        "/c/d/@flatten/separator should be a string but it is a number.",
    ]


def test_valid_mappings_have_no_problems() -> None:
    assert validate_mapping({"a": {"@path": "$.x"}, "b": [{"@nope": 1}], "c": 1}) == []


def test_the_event_must_be_an_object() -> None:
    with pytest.raises(MappingEvaluationError, match="data must be an object, got array"):
        compile_mapping({})([])  # type: ignore[arg-type]


# JavaScript value helpers


@pytest.mark.parametrize(
    ("number", "text"),
    [(1.0, "1"), (1e21, "1e+21"), (1e-7, "1e-7"), (123e-20, "1.23e-18"), (0.000001, "0.000001")],
)
def test_numbers_print_as_in_javascript(number: float, text: str) -> None:
    assert number_to_string(number) == text


def test_json_stringify_orders_index_keys_first_and_skips_undefined() -> None:
    assert (
        json_stringify({"b": 1, "1": 2, "u": UNDEFINED, "l": [UNDEFINED]})
        == '{"1":2,"b":1,"l":[null]}'
    )


UNPRINTABLE = "Cannot convert object to primitive value"  # V8's words


@pytest.mark.parametrize(
    ("mapping", "properties"),
    [
        ({"@template": "{{properties}}"}, {"toString": "x"}),
        ({"@template": "{{properties.a}}"}, {"a": [1, {"toString": None}]}),
        ({"@if": {"blank": {"@path": "$.properties"}, "then": 1}}, {"toString": 0}),
        (
            {
                "@if": {
                    "blank": {
                        "@merge": {"objects": [{"@path": "$.properties"}], "direction": "left"}
                    },
                    "then": 1,
                }
            },
            {"__proto__": None},
        ),
        (
            {"@if": {"blank": {"@excludeWhenNull": {"@path": "$.properties"}}, "then": 1}},
            {"__proto__": None},
        ),
        ({"@liquid": "{{ properties }}"}, {"toString": "x"}),
    ],
)
def test_an_object_v8_cannot_print_fails_the_event(mapping: Any, properties: Any) -> None:
    with pytest.raises(MappingEvaluationError, match=UNPRINTABLE):
        run({"f": mapping}, {"type": "track", "properties": properties})


def test_a_copy_inherits_from_its_proto_key() -> None:
    apply = {"x": {"@path": "$.properties"}}

    def through_copy(template: str, properties: Any) -> Any:
        mapping = {"@transform": {"apply": apply, "mapping": {"@template": template}}}
        return run({"f": mapping}, {"type": "track", "properties": properties})["f"]

    assert through_copy("{{x.a}}|{{x.b}}", {"__proto__": {"a": 5}, "b": 1}) == "5|1"
    assert through_copy("{{x}}|{{x.length}}", {"__proto__": [1, 2]}) == "1,2|2"
    assert through_copy("{{x}}|{{x.toString}}", {"__proto__": "s"}) == (
        "[object Object]|function toString() { [native code] }"
    )
    assert through_copy("{{x.toString}}", {"__proto__": None}) == ""
    # The output is a copy again: no `__proto__` key, nothing inherited.
    merged = {"@merge": {"objects": [{"@path": "$.properties"}], "direction": "right"}}
    assert run({"f": merged}, {"properties": {"__proto__": {"a": 1}, "b": 2}}) == {"f": {"b": 2}}
