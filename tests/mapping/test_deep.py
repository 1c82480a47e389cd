"""Deep mappings and deep decoded values, against actions-core (the oracle).

V8 maps values some 1,800 to 4,200 levels deep before its stack overflows; Python's
default stack holds 1,000 frames. At the depths the issue names (100, 331, 400 and
1,000) the reference succeeds, so must we, with the same output; past MAX_NESTING we
refuse with a MappingError or MappingEvaluationError naming the depth, never a
RecursionError.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

import pytest

from kameleoon_relay.js.json_codec import json_stringify
from kameleoon_relay.js.objects import as_js_value
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.values import MAX_NESTING, UNDEFINED
from kameleoon_relay.mapping import MappingError, MappingEvaluationError, compile_mapping
from tests.helpers.oracle import run_oracle

DEPTHS = (100, 331, 400, 1000)


def nested(depth: int, leaf: Any, key: str = "a") -> Any:
    value = leaf
    for _ in range(depth):
        value = {key: value}
    return value


def nested_list(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value, None]
    return value


def _decode(path: str = "$.properties.s") -> dict[str, Any]:
    return {"@json": {"mode": "decode", "value": {"@path": path}}}


def _text(value: Any) -> str:
    return deep_call(json.dumps, value)


# kind -> depth -> (mapping, event)
KINDS: dict[str, Callable[[int], tuple[Any, dict[str, Any]]]] = {
    "plain-object mapping": lambda d: (
        nested(d, {"@path": "$.properties.x"}),
        {"properties": {"x": 1}},
    ),
    "@merge of a deep literal": lambda d: (
        {"m": {"@merge": {"objects": [nested(d, 1), {"b": 2}], "direction": "right"}}},
        {},
    ),
    "@literal": lambda d: ({"m": {"@literal": nested(d, [1, "x"])}}, {}),
    "@json decode": lambda d: ({"m": _decode()}, {"properties": {"s": _text(nested(d, 1e2))}}),
    "@json decode of arrays": lambda d: (
        {"m": _decode()},
        {"properties": {"s": _text(nested_list(d, "x"))}},
    ),
    "@json encode of a decoded value": lambda d: (
        {"m": {"@json": {"mode": "encode", "value": _decode()}}},
        {"properties": {"s": _text(nested(d, [None, 1.5]))}},
    ),
    "@excludeWhenNull of a decoded value": lambda d: (
        {"m": {"@excludeWhenNull": _decode()}},
        {"properties": {"s": _text(nested(d, None))}},
    ),
    "@template over a decoded array": lambda d: (
        {
            "m": {
                "@transform": {
                    "apply": {"deep": _decode()},
                    "mapping": {"t": {"@template": "<{{deep}}>"}},
                }
            }
        },
        {"properties": {"s": _text(nested_list(d, 7))}},
    ),
}


def _ours(mapping: Any, event: dict[str, Any]) -> dict[str, Any]:
    try:
        output = compile_mapping(as_js_value(mapping))(as_js_value(event))
    except (MappingError, MappingEvaluationError) as error:
        return {"error": str(error)}
    return {"output": {"undefined": True} if output is UNDEFINED else {"value": output}}


@pytest.fixture(scope="module")
def compared() -> list[tuple[str, int, dict[str, Any], dict[str, Any]]]:
    labels, cases = [], []
    for kind, build in KINDS.items():
        for depth in DEPTHS:
            mapping, event = build(depth)
            labels.append((kind, depth))
            cases.append({"mapping": mapping, "event": event})
    # Deep JSON is read and compared on a deep stack, as the relay reads it.
    payload = deep_call(lambda: json.loads(_text(cases)))
    results = deep_call(run_oracle, "mapping_oracle.js", payload)
    return [
        (kind, depth, reference, deep_call(_ours, case["mapping"], case["event"]))
        for (kind, depth), case, reference in zip(labels, payload, results, strict=True)
    ]


def test_the_reference_maps_every_depth_named(compared: list[Any]) -> None:
    failed = [(k, d, r["error"]) for k, d, r, _ in compared if r["error"] or not r["valid"]]
    assert not failed, failed


def test_we_map_them_as_the_reference_does(compared: list[Any]) -> None:
    assert len(compared) == len(KINDS) * len(DEPTHS)
    for kind, depth, reference, ours in compared:
        assert "error" not in ours, (kind, depth, ours)
        # Compared as the JSON text each side sends (V8's numbers, key order).
        theirs = deep_call(json_stringify, reference["output"])
        mine = deep_call(json_stringify, ours["output"])
        assert deep_call(operator.eq, mine, theirs), (kind, depth)


@pytest.mark.parametrize("kind", KINDS)
def test_past_the_limit_a_mapping_error_names_the_depth(kind: str) -> None:
    mapping, event = KINDS[kind](MAX_NESTING + 10)
    try:
        compiled = compile_mapping(deep_call(as_js_value, mapping, MAX_NESTING * 2))
        compiled(deep_call(as_js_value, event, MAX_NESTING * 2))
    except (MappingError, MappingEvaluationError) as error:
        assert f"deeper than {MAX_NESTING} levels" in str(error)
    else:
        pytest.fail(f"{kind}: mapped a value deeper than {MAX_NESTING} levels")
