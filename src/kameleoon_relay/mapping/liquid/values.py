"""Values as liquidjs sees them: its drops (`nil`, `empty`, `blank`) and its reads.

liquidjs runs on JavaScript values; the JavaScript operators and conversions its
filters apply are kameleoon_relay.js's. Here is what liquidjs adds over them:
drops (which take part in ToPrimitive as js host objects), its own truthiness,
`==`, stringify, and property reads (`size`, `first`, `last`, negative indexes).
"""

from __future__ import annotations

from typing import Any

from kameleoon_relay.js.members import js_length, read_own
from kameleoon_relay.js.operators import HostObject, js_add, property_key, strict_equals, to_number
from kameleoon_relay.js.strings import JS_WHITESPACE, to_js_string, utf16_length
from kameleoon_relay.js.values import UNDEFINED, ProtoObject, is_number, truthy


class Drop(HostObject):
    """A liquidjs Drop: an object that prints as its primitive but compares specially."""

    __slots__ = ()
    primitive: Any = None  # what valueOf() returns

    def to_primitive(self, hint: str) -> Any:
        return "[object Object]" if hint == "string" else self.primitive

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

    def to_primitive(self, hint: str) -> Any:
        return "[object Object]"


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
    return to_js_string(value)


def liquid_number(value: Any) -> float:
    """liquidjs toNumber(): `+value || 0`, so NaN and -0 become 0."""
    number = to_number(value)
    return number if number == number and number != 0 else 0.0


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
            return other.strip(JS_WHITESPACE) == ""
    if isinstance(other, EmptyDrop):
        return False
    other = to_value(other)
    if type(other) is str or type(other) is list:
        return len(other) == 0
    if type(other) is dict or type(other) is ProtoObject:
        return not other
    return False  # BlockDrop has an own key; primitives are not empty


def read_index(array: Any, index: Any) -> Any:
    """readArrayElement: negative indices count from the end."""
    if index < 0:
        index = js_add(js_length(array), index)
    return read_own(array, index)


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
        return utf16_length(obj)
    if kind is dict or kind is ProtoObject:
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
