"""JavaScript value semantics, shared by every stage that must match the reference.

Segment's destination runs in JavaScript, so its coercions show through in what
Kameleoon receives: `undefined` apart from `null`, truthiness, `String(x)`,
UTF-16 string lengths, the key order of objects, one number type. The FQL
engine, the mapping-kit, payload validation and event normalisation all use
these helpers on plain JSON-decoded Python values.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any


class _Undefined:
    """JavaScript's `undefined`: a missing value, distinct from null (None)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()

_MAX_SAFE = 2**53  # JS numbers are doubles: larger integers lose digits
_MAX_ARRAY_INDEX = 2**32 - 2  # JS orders keys that are valid array indices first
_MAX_PLAIN_NUMBER = 1e21  # JS prints larger numbers in exponent form
# orjson writes ints in [-2**63, 2**64); a JS number outside stays a float so it can be stored.
_ORJSON_INT_RANGE = range(-(2**63), 2**64)
# Values nested deeper are refused rather than recursed into: Python's stack is far
# shallower than V8's, and orjson writes at most 254 levels. Events are held to
# spec.MAX_EVENT_DEPTH (64) before they get here; this is the backstop for everything else.
MAX_NESTING = 200


class NestingError(ValueError):
    """A value nested deeper than MAX_NESTING levels."""

    def __init__(self, limit: int = MAX_NESTING) -> None:
        super().__init__(f"value nested deeper than {limit} levels")


def nesting_depth(value: Any, limit: int | None = None) -> int:
    """Levels of objects and arrays in `value` (a scalar is 0), without recursion.

    With `limit`, stops counting as soon as the depth passes it (returning limit + 1).


    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if type(node) is dict else node if type(node) is list else None
        if children is None:
            continue
        if depth > deepest:
            deepest = depth
            if limit is not None and deepest > limit:
                return deepest
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return deepest


def truthy(value: Any) -> bool:
    """JavaScript truthiness: `{}` and `[]` are true, `NaN`, `0`, `""` false."""
    kind = type(value)
    if kind is dict or kind is list:
        return True
    if kind is float:
        return value == value and value != 0.0
    return bool(value)


def utf16_length(text: str) -> int:
    """String length as JavaScript counts it (UTF-16 code units)."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ch > "\uffff")


def utf16_units(text: str) -> list[str]:
    """The string split into UTF-16 code units (astral chars become two surrogates)."""
    if all(ord(ch) < 0x10000 for ch in text):
        return list(text)
    raw = text.encode("utf-16-le", "surrogatepass")
    return [raw[i : i + 2].decode("utf-16-le", "surrogatepass") for i in range(0, len(raw), 2)]


def number_to_string(number: int | float) -> str:
    """Number.prototype.toString(): shortest round-trip digits, JS exponent rules."""
    if isinstance(number, int):
        if -_MAX_SAFE <= number <= _MAX_SAFE:
            return str(number)
        number = float(number)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(number))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    # value = 0.digits * 10**point
    point = len(digit_tuple) + exponent
    count = len(digits)
    if count <= point <= 21:
        body = digits + "0" * (point - count)
    elif 0 < point <= 21:
        body = f"{digits[:point]}.{digits[point:]}"
    elif -6 < point <= 0:
        body = "0." + "0" * -point + digits
    else:
        power = point - 1
        mantissa = digits if count == 1 else f"{digits[0]}.{digits[1:]}"
        body = f"{mantissa}e{'+' if power >= 0 else '-'}{abs(power)}"
    return sign + body


def to_js_string(value: Any, _depth: int = 0) -> str:
    """JavaScript's String(value) for JSON-like values (NestingError past MAX_NESTING)."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return number_to_string(value)
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, list):
        if _depth >= MAX_NESTING:
            raise NestingError()
        return ",".join(
            "" if v is None or v is UNDEFINED else to_js_string(v, _depth + 1) for v in value
        )
    return "[object Object]"


def is_index_key(key: str) -> bool:
    """A canonical array index ("0", "12"; not "01"): JS lists such keys first."""
    return (
        key.isdigit()
        and key.isascii()
        and (key == "0" or key[0] != "0")
        and int(key) <= _MAX_ARRAY_INDEX
    )


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
    return {key: obj[key] for key in js_key_order(obj)}


def as_js_value(value: Any, limit: int = MAX_NESTING) -> Any:
    """Return `value` with JavaScript's key order and number identity.

    What needs no change is not copied: the result shares such objects and arrays with
    `value` (and is `value` itself when nothing changes). Raises NestingError past
    `limit` levels, so the same walk serves as a depth check.
    """
    return _js(value, 0, limit)


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
        return _js_float(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE:
        return _js_float(float(value))
    return value


# The two loops below are the ingest's hottest code: the common values (strings, safe
# ints, non-integral floats) are passed over inline, at no call; the rest go to `_js`.


def _js_dict(value: dict[str, Any], depth: int, limit: int) -> dict[str, Any]:
    if depth >= limit:
        raise NestingError(limit)
    depth += 1
    changed: dict[str, Any] | None = None
    for key, item in value.items():
        kind = type(item)
        if (
            kind is str
            or kind is bool
            or item is None
            or (kind is int and -_MAX_SAFE <= item <= _MAX_SAFE)
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
        raise NestingError(limit)
    depth += 1
    converted: list[Any] | None = None
    for index, item in enumerate(value):
        kind = type(item)
        if (
            kind is str
            or kind is bool
            or item is None
            or (kind is int and -_MAX_SAFE <= item <= _MAX_SAFE)
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


def _js_float(value: float) -> int | float:
    """A JS number as the Python value that orjson prints the way JS does.

    Integral values become ints (JS prints `10`, not `10.0`); past 2**53 the int
    carries JS's shortest digits, which is what JS would print for the double, unless
    that int is past what orjson (and so the store) writes: then it stays a float, the
    same double, which `json_stringify` prints as JS does.
    """
    if not value.is_integer() or abs(value) >= _MAX_PLAIN_NUMBER:
        return value
    if abs(value) <= _MAX_SAFE:
        return int(value)
    shortest = int(number_to_string(value))
    return shortest if shortest in _ORJSON_INT_RANGE else value


_SURROGATES = re.compile("([\ud800-\udbff][\udc00-\udfff])|[\ud800-\udfff]")


def _encode_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    if not _SURROGATES.search(encoded):
        return encoded
    # Well-formed JSON.stringify: a surrogate pair is its character, a lone one an escape.
    return _SURROGATES.sub(
        lambda m: (
            m[1].encode("utf-16-le", "surrogatepass").decode("utf-16-le")
            if m[1]
            else f"\\u{ord(m[0]):04x}"
        ),
        encoded,
    )


def json_stringify(value: Any) -> Any:
    """JSON.stringify(value): UNDEFINED for undefined, else the compact JSON text."""
    if value is UNDEFINED:
        return UNDEFINED
    return _stringify(value, 0)


def _stringify(value: Any, depth: int) -> str:
    if isinstance(value, str):
        return _encode_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return "null"
        return number_to_string(value)
    if isinstance(value, list | dict) and depth >= MAX_NESTING:
        raise NestingError()
    if isinstance(value, list):
        items = ("null" if v is UNDEFINED else _stringify(v, depth + 1) for v in value)
        return "[" + ",".join(items) + "]"
    if isinstance(value, dict):
        parts = [
            f"{_encode_string(k)}:{_stringify(value[k], depth + 1)}"
            for k in js_key_order(value)
            if value[k] is not UNDEFINED
        ]
        return "{" + ",".join(parts) + "}"
    return "null"
