"""Values as liquidjs sees them: its drops (`nil`, `empty`, `blank`) and JavaScript coercions.

liquidjs runs on JavaScript values, and many of its filters apply JavaScript
operators to their arguments without converting them first (`slice` adds a
string to a number, `truncate` compares a length with whatever it was given).
These helpers reproduce those operators on JSON-like Python values, where
None is null, UNDEFINED is undefined and a Python list is an Array.
"""

from __future__ import annotations

import math
import re
from typing import Any

from kameleoon_relay.js.types import (
    JS_WHITESPACE,
    UNDEFINED,
    number_to_string,
    truthy,
    utf16_len,
    utf16_units,
)


class MemoryLimitError(Exception):
    """liquidjs's memory limit was exceeded (a per-event mapping error)."""


class FilterError(Exception):
    """A filter threw (a per-event mapping error)."""


class Drop:
    """A liquidjs Drop: an object that prints as its primitive but compares specially."""

    __slots__ = ()
    primitive: Any = None  # what valueOf() returns

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class NilDrop(Drop):
    __slots__ = ()
    primitive = None


class EmptyDrop(Drop):
    __slots__ = ()
    primitive = ""


class BlankDrop(EmptyDrop):
    __slots__ = ()


class BlockDrop(Drop):
    """`block` inside a `{% block %}`: valueOf() is the object itself."""

    __slots__ = ()


NIL = NilDrop()
EMPTY = EmptyDrop()
BLANK = BlankDrop()
BLOCK = BlockDrop()

LITERALS: dict[str, Any] = {
    "true": True,
    "false": False,
    "nil": NIL,
    "null": NIL,
    "empty": EMPTY,
    "blank": BLANK,
}

_NUMERIC = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)\Z")
_RADIX = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
_RADIX_DIGITS = {
    16: re.compile(r"[0-9a-fA-F]+\Z"),
    8: re.compile(r"[0-7]+\Z"),
    2: re.compile(r"[01]+\Z"),
}


def is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float


def is_nil(value: Any) -> bool:
    return value is None or value is UNDEFINED


def to_value(value: Any) -> Any:
    """liquidjs toValue(): a drop becomes its primitive."""
    if isinstance(value, Drop) and not isinstance(value, BlockDrop):
        return value.primitive
    return value


def is_falsy(value: Any) -> bool:
    """liquidjs truthiness: only false, null and undefined are false (0 and "" are true)."""
    value = to_value(value)
    return value is False or value is None or value is UNDEFINED


def stringify(value: Any) -> str:
    """liquidjs stringify(): nil prints nothing, arrays concatenate, the rest String()."""
    value = to_value(value)
    if type(value) is str:
        return value
    if value is None or value is UNDEFINED:
        return ""
    if type(value) is list:
        return "".join(stringify(item) for item in value)
    return js_string(value)


def js_string(value: Any) -> str:
    """JavaScript's String(value); drops are objects."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return number_to_string(value)
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if kind is list:
        return ",".join("" if is_nil(item) else js_string(item) for item in value)
    return "[object Object]"


def to_primitive(value: Any, hint: str = "default") -> Any:
    """ToPrimitive: objects become "[object Object]", arrays their join, drops their valueOf."""
    if isinstance(value, Drop):
        if hint == "string" or isinstance(value, BlockDrop):
            return "[object Object]"
        return value.primitive
    if type(value) is list:
        return js_string(value)
    if type(value) is dict:
        return "[object Object]"
    return value


def string_to_number(text: str) -> float:
    text = text.strip(JS_WHITESPACE)
    if not text:
        return 0.0
    if _NUMERIC.match(text):
        return float(text)
    radix = _RADIX.get(text[:2])
    if radix and _RADIX_DIGITS[radix].match(text[2:]):
        return float(int(text[2:], radix))
    if text in ("Infinity", "+Infinity"):
        return math.inf
    if text == "-Infinity":
        return -math.inf
    return math.nan


def to_number(value: Any) -> float:
    """JavaScript's Number(value)."""
    value = to_primitive(value, "number")
    kind = type(value)
    if kind is bool:
        return 1.0 if value else 0.0
    if kind is int or kind is float:
        return float(value)
    if kind is str:
        return string_to_number(value)
    if value is None:
        return 0.0
    return math.nan


def liquid_number(value: Any) -> float:
    """liquidjs toNumber(): `+value || 0`, so NaN and -0 become 0."""
    number = to_number(value)
    return number if number == number and number != 0 else 0.0


def to_integer(value: Any) -> float:
    """ToIntegerOrInfinity."""
    number = to_number(value)
    if number != number:
        return 0.0
    if math.isinf(number):
        return number
    return float(math.trunc(number))


def js_add(left: Any, right: Any) -> Any:
    """JavaScript's `left + right`."""
    left, right = to_primitive(left), to_primitive(right)
    if type(left) is str or type(right) is str:
        return js_string(left) + js_string(right)
    return to_number(left) + to_number(right)


def _relational(left: Any, right: Any) -> int | None:
    """Compare like JavaScript's `<`: -1, 0, 1, or None when NaN is involved."""
    left, right = to_primitive(left, "number"), to_primitive(right, "number")
    if type(left) is str and type(right) is str:
        if not (_plain(left) and _plain(right)):
            # JavaScript compares strings by UTF-16 code units, Python by code points.
            left = left.encode("utf-16-be", "surrogatepass")  # type: ignore[assignment]
            right = right.encode("utf-16-be", "surrogatepass")  # type: ignore[assignment]
        return -1 if left < right else (1 if left > right else 0)
    x, y = to_number(left), to_number(right)
    if x != x or y != y:
        return None
    return -1 if x < y else (1 if x > y else 0)


def _plain(text: str) -> bool:
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
    if type(left) is dict or type(left) is list:
        return left is right
    return left == right


def equals(left: Any, right: Any) -> bool:
    """liquidjs `==`: drops compare specially, arrays element-wise, the rest with ===."""
    if isinstance(left, Drop) and not isinstance(left, BlockDrop):
        return drop_equals(left, right)
    if isinstance(right, Drop) and not isinstance(right, BlockDrop):
        return drop_equals(right, left)
    left, right = to_value(left), to_value(right)
    if type(left) is list:
        return (
            type(right) is list
            and len(left) == len(right)
            and all(equals(a, b) for a, b in zip(left, right, strict=True))
        )
    return strict_equals(left, right)


def drop_equals(drop: Drop, other: Any) -> bool:
    if isinstance(drop, NilDrop):
        return is_nil(to_value(other))
    if isinstance(drop, BlankDrop):
        if other is False or is_nil(to_value(other)):
            return True
        if type(other) is str:
            return other.strip(_REGEX_SPACE) == ""
    if isinstance(other, EmptyDrop):
        return False
    other = to_value(other)
    if type(other) is str or type(other) is list:
        return len(other) == 0
    if type(other) is dict:
        return not other
    return False  # BlockDrop has an own key; primitives are not empty


# JavaScript's \s: what /^\s*$/ accepts.
_REGEX_SPACE = JS_WHITESPACE


def property_key(key: Any) -> str:
    """ToPropertyKey."""
    return js_string(to_primitive(key, "string"))


def has_own(obj: Any, key: Any) -> bool:
    """Object.hasOwnProperty.call(obj, key) on JSON-like values."""
    kind = type(obj)
    if kind is dict:
        return property_key(key) in obj
    if kind is list or kind is str:
        name = property_key(key)
        if name == "length":
            return True
        if _is_index(name):
            return int(name) < (len(obj) if kind is list else utf16_len(obj))
    return False


def _is_index(name: str) -> bool:
    return name.isdigit() and name.isascii() and (name == "0" or name[0] != "0")


def get_own(obj: Any, key: Any) -> Any:
    """obj[key] for an own property (has_own(obj, key) holds)."""
    kind = type(obj)
    if kind is dict:
        return obj[property_key(key)]
    name = property_key(key)
    if name == "length":
        return len(obj) if kind is list else utf16_len(obj)
    if kind is list:
        return obj[int(name)]
    return utf16_units(obj)[int(name)] if not obj.isascii() else obj[int(name)]


def read_own(obj: Any, key: Any) -> Any:
    return get_own(obj, key) if has_own(obj, key) else UNDEFINED


def read_index(array: Any, index: Any) -> Any:
    """readArrayElement: negative indices count from the end."""
    if index < 0:
        index = js_add(js_length(array), index)
    return read_own(array, index)


def js_length(value: Any) -> Any:
    """value.length (UNDEFINED when absent)."""
    kind = type(value)
    if kind is str:
        return utf16_len(value)
    if kind is list:
        return len(value)
    if kind is dict:
        return value.get("length", UNDEFINED)
    return UNDEFINED


def is_array_like(value: Any) -> bool:
    """liquidjs isArrayLike: truthy with a numeric length."""
    return truthy(value) and is_number(js_length(value))


_DROP_METHODS = {
    "valueOf",
    "equals",
    "gt",
    "geq",
    "lt",
    "leq",
    "liquidMethodMissing",
    "toString",
    "toLocaleString",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
}


def read_drop_property(drop: Drop, key: Any) -> Any:
    """A drop's property: its methods are called without arguments, the rest is undefined."""
    name = property_key(to_value(key))
    if isinstance(drop, BlockDrop):
        if name == "super":
            return ""  # no layout: the parent block renders nothing
        if name == "valueOf":
            return drop
        if name in ("toString", "toLocaleString"):
            return "[object Object]"
        if name in ("hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"):
            return False
        return UNDEFINED
    if name not in _DROP_METHODS:
        return UNDEFINED
    if name == "valueOf":
        return drop.primitive
    if name == "equals":
        return drop_equals(drop, UNDEFINED)
    if name in ("gt", "geq", "lt", "leq", "hasOwnProperty", "isPrototypeOf"):
        return False
    if name == "propertyIsEnumerable":
        return False
    if name in ("toString", "toLocaleString"):
        return "[object Object]"
    return UNDEFINED


def read_property(obj: Any, key: Any) -> Any:
    """liquidjs Context.readProperty with ownPropertyOnly (its default)."""
    key = to_value(key)
    if is_nil(obj):
        return obj
    if isinstance(obj, Drop):
        return read_drop_property(obj, key)
    if type(obj) is list and is_number(key):
        return read_index(obj, key)
    value = read_own(obj, key)
    if value is not UNDEFINED:
        return value
    if key == "size":
        return read_size(obj)
    if key == "first":
        return read_index(obj, 0) if type(obj) is list else UNDEFINED
    if key == "last":
        return read_index(obj, -1) if type(obj) is list else UNDEFINED
    return UNDEFINED


def read_size(obj: Any) -> Any:
    kind = type(obj)
    if kind is list:
        return len(obj)
    if kind is str:
        return utf16_len(obj)
    if kind is dict:
        return len(obj)
    return UNDEFINED


def to_array(value: Any) -> list[Any]:
    """liquidjs toArray(): nil is [], an array itself, anything else a one-item array."""
    value = to_value(value)
    if is_nil(value):
        return []
    if type(value) is list:
        return value
    return [value]
