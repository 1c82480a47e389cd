"""Validation of a mapping, accepting and rejecting what the reference does.

The reference stops at the first problem in many places; this collects every
problem instead. Each message names its location as a JSON-pointer-like path
within the mapping (`/field/@if/exists ...`), worded as the reference words it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.strings import utf16_length
from kameleoon_relay.js.values import MAX_NESTING, UNDEFINED, nesting_depth, real_type_of

Stack = tuple[str, ...]
Check = Callable[[Any, Stack, list[str]], None]

MAX_PATTERN_LENGTH = 10
MAX_REPLACEMENT_LENGTH = 10


def is_directive(value: Any) -> bool:
    """A dict whose keys are all @-prefixed (or `_metadata`), with at least one @-key."""
    if not isinstance(value, dict):
        return False
    has_directive = False
    for key in value:
        if key.startswith("@"):
            has_directive = True
        elif key != "_metadata":
            return False
    return has_directive


def _kind(value: Any) -> str:
    kind = real_type_of(value)
    if kind == "object" and any(k.startswith("@") for k in value):
        return "directive"
    return kind


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in ("a", "e", "i", "o", "u") else f"a {kind}"


def _problem(out: list[str], stack: Stack, message: str) -> None:
    out.append(f"/{'/'.join(stack)} {message}.")


def validate_node(value: Any, stack: Stack, out: list[str]) -> None:
    """Generic validation of any mapping value (arrays are not looked into)."""
    kind = _kind(value)
    if kind == "directive":
        _directive(value, stack, out)
    elif kind == "object":
        _object(value, stack, out)


def _directive(obj: dict[str, Any], stack: Stack, out: list[str]) -> None:
    keys = list(obj)
    directive_keys = [k for k in keys if k.startswith("@")]
    if len(directive_keys) > 1:
        _problem(
            out,
            stack,
            f"should only have one @-prefixed key but it has {len(directive_keys)} keys",
        )
        return
    if any(not k.startswith("@") and k != "_metadata" for k in keys):
        _problem(out, stack, f"should only have one @-prefixed key but it has {len(keys)} keys")
        return
    name = directive_keys[0]
    check = _DIRECTIVES.get(name)
    if check is None:
        _problem(out, stack, f"has an invalid directive: {name}")
        return
    check(obj[name], (*stack, name), out)


def _object(value: Any, stack: Stack, out: list[str]) -> bool:
    """Validate a plain object and everything in it; False if it is not an object."""
    kind = _kind(value)
    if kind != "object":
        _problem(out, stack, f"should be an object but it is {_a(kind)}")
        return False
    for key, item in value.items():
        validate_node(item, (*stack, key), out)
    return True


def _directive_or_raw(value: Any, stack: Stack, out: list[str]) -> None:
    kind = _kind(value)
    if kind == "directive":
        _directive(value, stack, out)
    elif kind not in ("object", "array", "boolean", "string", "number", "null"):
        _problem(out, stack, f"should be a mapping directive or a JSON value but it is {_a(kind)}")


def _directive_or_string(value: Any, stack: Stack, out: list[str]) -> None:
    kind = _kind(value)
    if kind == "directive":
        _directive(value, stack, out)
    elif kind != "string":
        _problem(out, stack, f"should be a string or a mapping directive but it is {_a(kind)}")


def _directive_or_object(value: Any, stack: Stack, out: list[str]) -> None:
    kind = _kind(value)
    if kind == "directive":
        _directive(value, stack, out)
    elif kind == "object":
        _object(value, stack, out)
    else:
        _problem(out, stack, f"should be a object or a mapping directive but it is {_a(kind)}")


def _string(value: Any, stack: Stack, out: list[str]) -> bool:
    kind = _kind(value)
    if kind != "string":
        _problem(out, stack, f"should be a string but it is {_a(kind)}")
        return False
    return True


def _string_of_length(low: int, high: int) -> Check:
    def check(value: Any, stack: Stack, out: list[str]) -> None:
        if not _string(value, stack, out):
            return
        if utf16_length(value) < low:
            _problem(out, stack, f"should be a string of length {low} or greater")
        elif utf16_length(value) > high:
            _problem(out, stack, f"should be a string of length {high} or less")

    return check


def _one_of(*allowed: str) -> Check:
    def check(value: Any, stack: Stack, out: list[str]) -> None:
        if _string(value, stack, out) and value.lower() not in allowed:
            shown = json.dumps(value, ensure_ascii=False)
            _problem(out, stack, f"should be one of {', '.join(allowed)} but it is {shown}")

    return check


def _boolean(value: Any, stack: Stack, out: list[str]) -> None:
    kind = _kind(value)
    if kind != "boolean":
        _problem(out, stack, f"should be a boolean but it is {_a(kind)}")


def _array(value: Any, stack: Stack, out: list[str]) -> bool:
    kind = real_type_of(value)
    if kind != "array":
        _problem(out, stack, f"should be an array but it is {_a(kind)}")
        return False
    return True


def _fields(
    value: Any,
    stack: Stack,
    out: list[str],
    required: dict[str, Check] | None = None,
    optional: dict[str, Check] | None = None,
) -> bool:
    """An options object: validated as an object, then field by field."""
    if not _object(value, stack, out):
        return False
    for name, check in (required or {}).items():
        if name not in value:
            _problem(out, stack, f"should have field {json.dumps(name)} but it doesn't")
        else:
            check(value[name], (*stack, name), out)
    for name, check in (optional or {}).items():
        if name in value:
            check(value[name], (*stack, name), out)
    return True


def _if(value: Any, stack: Stack, out: list[str]) -> None:
    raw = _directive_or_raw
    _fields(value, stack, out, optional={"exists": raw, "then": raw, "else": raw})


def _case(value: Any, stack: Stack, out: list[str]) -> None:
    _fields(value, stack, out, optional={"operator": _string, "value": _directive_or_string})


def _replace(value: Any, stack: Stack, out: list[str]) -> None:
    _fields(
        value,
        stack,
        out,
        required={
            "pattern": _string_of_length(1, MAX_PATTERN_LENGTH),
            "value": _directive_or_string,
        },
        optional={
            "replacement": _string_of_length(0, MAX_REPLACEMENT_LENGTH),
            "ignorecase": _boolean,
            "global": _boolean,
        },
    )


def _array_path(value: Any, stack: Stack, out: list[str]) -> None:
    if not _array(value, stack, out):
        return
    _directive_or_string(value[0] if value else UNDEFINED, stack, out)
    if len(value) > 1:
        validate_node(value[1], stack, out)


def _json(value: Any, stack: Stack, out: list[str]) -> None:
    _fields(
        value,
        stack,
        out,
        required={"value": _directive_or_raw, "mode": _one_of("encode", "decode")},
    )


def _flatten(value: Any, stack: Stack, out: list[str]) -> None:
    _fields(
        value,
        stack,
        out,
        required={"value": _directive_or_raw},
        optional={"separator": _string},
    )


def _merge(value: Any, stack: Stack, out: list[str]) -> None:
    valid = _fields(
        value,
        stack,
        out,
        required={"objects": _array},
        optional={"direction": _one_of("left", "right")},
    )
    # The reference reports these without a location; we name the element.
    if valid and isinstance(value.get("objects"), list):
        for index, item in enumerate(value["objects"]):
            _directive_or_object(item, (*stack, "objects", str(index)), out)


def _transform(value: Any, stack: Stack, out: list[str]) -> None:
    _fields(
        value,
        stack,
        out,
        required={"apply": _directive_or_object, "mapping": _directive_or_object},
    )


_DIRECTIVES: dict[str, Check] = {
    "@if": _if,
    "@case": _case,
    "@replace": _replace,
    "@arrayPath": _array_path,
    "@path": _directive_or_string,
    "@json": _json,
    "@flatten": _flatten,
    "@merge": _merge,
    "@template": _directive_or_string,
    "@literal": _directive_or_raw,
    "@transform": _transform,
    "@excludeWhenNull": _directive_or_raw,
    "@liquid": _string,
}


def validate_mapping(mapping: Any) -> list[str]:
    """Every problem with a mapping (empty when the reference accepts it)."""
    if nesting_depth(mapping, MAX_NESTING) > MAX_NESTING:
        return [f"mapping: {NestingTooDeepError(MAX_NESTING)}"]
    try:
        return deep_call(_problems, mapping)
    except NestingTooDeepError as error:
        return [f"mapping: {error}"]


def _problems(mapping: Any) -> list[str]:
    out: list[str] = []
    validate_node(mapping, (), out)
    return list(dict.fromkeys(out))
