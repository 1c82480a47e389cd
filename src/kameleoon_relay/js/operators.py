"""JavaScript's operators and conversions on JSON-like values: ToPrimitive, Number(),
`+`, the relational operators, `===` and `== ''`.

Host objects (liquid's drops) take part through HostObject, which decides their
own ToPrimitive.
"""

from __future__ import annotations

import math
from typing import Any

from kameleoon_relay.js.numbers import as_number, string_to_number
from kameleoon_relay.js.strings import object_to_string, to_js_string
from kameleoon_relay.js.values import ProtoObject, is_number


class HostObject:
    """An object defined outside the JSON model that converts to a primitive its own way."""

    __slots__ = ()

    def to_primitive(self, hint: str) -> Any:
        return "[object Object]"


def to_primitive(value: Any, hint: str = "default") -> Any:
    """ToPrimitive: objects become "[object Object]", arrays their join (ToPrimitiveError
    where V8 throws: js.strings.object_to_string)."""
    kind = type(value)
    if kind is list:
        return to_js_string(value)
    if kind is dict or kind is ProtoObject:
        return object_to_string(value)
    if isinstance(value, HostObject):
        return value.to_primitive(hint)
    return value


def to_number(value: Any) -> float:
    """JavaScript's Number(value)."""
    value = to_primitive(value, "number")
    if value is True or value is False:
        return 1.0 if value else 0.0
    number = as_number(value)
    if number is not None:
        return number
    if type(value) is str:
        return string_to_number(value)
    if value is None:
        return 0.0
    return math.nan


def to_integer(value: Any) -> float:
    """ToIntegerOrInfinity."""
    number = to_number(value)
    if number != number:
        return 0.0
    if math.isinf(number):
        return number
    return float(math.trunc(number))


def property_key(key: Any) -> str:
    """ToPropertyKey."""
    return to_js_string(to_primitive(key, "string"))


def js_add(left: Any, right: Any) -> Any:
    """JavaScript's `left + right`."""
    left, right = to_primitive(left), to_primitive(right)
    if type(left) is str or type(right) is str:
        return to_js_string(left) + to_js_string(right)
    return to_number(left) + to_number(right)


def _relational(left: Any, right: Any) -> int | None:
    """Compare like JavaScript's `<`: -1, 0, 1, or None when NaN is involved."""
    left, right = to_primitive(left, "number"), to_primitive(right, "number")
    if type(left) is str and type(right) is str:
        if not (_below_surrogates(left) and _below_surrogates(right)):
            # JavaScript compares strings by UTF-16 code units, Python by code points.
            left = left.encode("utf-16-be", "surrogatepass")  # type: ignore[assignment]
            right = right.encode("utf-16-be", "surrogatepass")  # type: ignore[assignment]
        return -1 if left < right else (1 if left > right else 0)
    x, y = to_number(left), to_number(right)
    if x != x or y != y:
        return None
    return -1 if x < y else (1 if x > y else 0)


def _below_surrogates(text: str) -> bool:
    return text.isascii() or all(ord(ch) < 0xD800 for ch in text)


def js_lt(left: Any, right: Any) -> bool:
    return _relational(left, right) == -1


def js_gt(left: Any, right: Any) -> bool:
    return _relational(left, right) == 1


def js_le(left: Any, right: Any) -> bool:
    return _relational(left, right) in (-1, 0)


def js_ge(left: Any, right: Any) -> bool:
    return _relational(left, right) in (1, 0)


def strict_equals(left: Any, right: Any) -> bool:
    """JavaScript's `===` on JSON-like values (objects by identity)."""
    if is_number(left) and is_number(right):
        return left == right
    if type(left) is not type(right):
        return False
    if type(left) is dict or type(left) is list or type(left) is ProtoObject:
        return left is right
    return left == right


def loosely_equals_empty(value: Any) -> bool:
    """`value == ''` in JavaScript, for a value that is neither null nor undefined."""
    if isinstance(value, str):
        return value == ""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value == 0
    if isinstance(value, list):
        return to_js_string(value) == ""
    if isinstance(value, dict):  # "[object Object]", an inherited array's join, or a throw
        return object_to_string(value) == ""
    return False
