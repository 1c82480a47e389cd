"""Objects and arrays as V8 holds parsed JSON: key order (array indices first) and
number identity (one double type, printed V8's way)."""

from __future__ import annotations

from typing import Any

from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.numbers import MAX_SAFE, js_number
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.values import MAX_NESTING, ProtoObject, is_index_key

# The one key that assignment does not store: `o["__proto__"] = v` sets o's prototype.
# JSON.parse keeps it as an own key, so reads see it, but every copy that assigns keys
# (the mapping-kit's output, Object.assign) drops it: Segment never forwards one.
PROTO_KEY = "__proto__"


def set_member(obj: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """`obj[key] = value` as JavaScript assigns it, on an object being built.

    Returns `obj`, or in its place a ProtoObject when the assignment set a prototype:
    `__proto__` reaches Object.prototype's setter, which takes an object or null and
    ignores anything else; with no setter on the way (a null prototype, or an inherited
    `__proto__` data property) it is an ordinary key.
    """
    if key != PROTO_KEY or key in obj or not _reaches_proto_setter(obj):
        obj[key] = value
        return obj
    if value is None or isinstance(value, dict | list):
        return ProtoObject(obj, value)
    return obj


def _reaches_proto_setter(obj: dict[str, Any]) -> bool:
    node: Any = obj
    while type(node) is ProtoObject:
        node = node.proto
        if node is None or (isinstance(node, dict) and PROTO_KEY in node):
            return False
    return True


def assign_copy(source: dict[str, Any]) -> dict[str, Any]:
    """`Object.assign({}, source)`: own keys in order; a `__proto__` key sets the prototype."""
    if PROTO_KEY not in source:
        return dict(source)
    copy: dict[str, Any] = {}
    for key, value in source.items():
        copy = set_member(copy, key, value)
    return copy


def without_proto_keys(value: Any) -> Any:
    """`value` without `__proto__` keys at any depth (shared where nothing changes)."""
    return deep_call(_without_proto, value)


def _without_proto(value: Any) -> Any:
    if type(value) is dict:
        changed = {}
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                new = _without_proto(item)
                if new is not item:
                    changed[key] = new
        if not changed and PROTO_KEY not in value:
            return value
        merged = value | changed
        merged.pop(PROTO_KEY, None)
        return merged
    if type(value) is list:
        items = [_without_proto(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def js_key_order(obj: dict[str, Any]) -> list[str]:
    """Own-key order of a JavaScript object: array indices ascending, then insertion order."""
    indices = [k for k in obj if is_index_key(k)]
    if not indices:
        return list(obj)
    indices.sort(key=int)
    return indices + [k for k in obj if not is_index_key(k)]


def js_ordered(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with its keys in JavaScript's order (itself when already so)."""
    if not any(is_index_key(key) for key in obj):
        return obj
    ordered = {key: obj[key] for key in js_key_order(obj)}
    return ordered if type(obj) is dict else ProtoObject(ordered, obj.proto)  # type: ignore[attr-defined]


def as_js_value(value: Any, limit: int = MAX_NESTING) -> Any:
    """Return `value` with JavaScript's key order and number identity.

    What needs no change is not copied: the result shares such objects and arrays with
    `value` (and is `value` itself when nothing changes). Raises NestingTooDeepError past
    `limit` levels, so the same walk serves as a depth check.
    """
    return deep_call(_js, value, 0, limit)


def _js(value: Any, depth: int, limit: int) -> Any:
    kind = type(value)
    if kind is dict:
        return _js_dict(value, depth, limit)
    if kind is list:
        return _js_list(value, depth, limit)
    if isinstance(value, dict):  # a Mapping subclass: read as the plain dict it holds
        return _js_dict(dict(value), depth, limit)
    if isinstance(value, list):
        return _js_list(list(value), depth, limit)
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE:
        return js_number(value)
    return value


# The two loops below are the ingest's hottest code: the common values (strings, safe
# ints, non-integral floats) are passed over inline, at no call; the rest go to `_js`.


def _js_dict(value: dict[str, Any], depth: int, limit: int) -> dict[str, Any]:
    if depth >= limit:
        raise NestingTooDeepError(limit)
    depth += 1
    changed: dict[str, Any] | None = None
    for key, item in value.items():
        kind = type(item)
        if (
            kind is str
            or kind is bool
            or item is None
            or (kind is int and -MAX_SAFE <= item <= MAX_SAFE)
            or (kind is float and not item.is_integer())
        ):
            continue
        # Containers straight to their loop: most of what is left, and a call saved.
        new = (
            _js_dict(item, depth, limit)
            if kind is dict
            else _js_list(item, depth, limit)
            if kind is list
            else _js(item, depth, limit)
        )
        if new is not item:
            if changed is None:
                changed = {}
            changed[key] = new
    # str.isdigit in C screens the keys; is_index_key decides for the few that pass.
    indexed = any(map(str.isdigit, value)) and any(map(is_index_key, value))
    if changed is None and not indexed:
        return value
    converted = value | changed if changed else value.copy()  # `|` keeps value's key order
    return _index_keys_first(converted) if indexed else converted


def _js_list(value: list[Any], depth: int, limit: int) -> list[Any]:
    if depth >= limit:
        raise NestingTooDeepError(limit)
    depth += 1
    converted: list[Any] | None = None
    for index, item in enumerate(value):
        kind = type(item)
        if (
            kind is str
            or kind is bool
            or item is None
            or (kind is int and -MAX_SAFE <= item <= MAX_SAFE)
            or (kind is float and not item.is_integer())
        ):
            continue
        # Containers straight to their loop: most of what is left, and a call saved.
        new = (
            _js_dict(item, depth, limit)
            if kind is dict
            else _js_list(item, depth, limit)
            if kind is list
            else _js(item, depth, limit)
        )
        if new is not item:
            if converted is None:
                converted = value.copy()
            converted[index] = new
    return value if converted is None else converted


def _index_keys_first(converted: dict[str, Any]) -> dict[str, Any]:
    index_keys = [key for key in converted if is_index_key(key)]
    ordered = {key: converted[key] for key in sorted(index_keys, key=int)}
    for key, item in converted.items():
        if key not in ordered:
            ordered[key] = item
    return ordered
