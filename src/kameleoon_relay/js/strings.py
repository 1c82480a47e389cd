"""JavaScript strings: UTF-16 code units, `String(value)`, whitespace and trim."""

from __future__ import annotations

from typing import Any

from kameleoon_relay.js.errors import NestingTooDeepError, ToPrimitiveError
from kameleoon_relay.js.numbers import number_to_string
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.values import (
    MAX_NESTING,
    UNDEFINED,
    JSFunction,
    JSPrototype,
    ProtoObject,
)

# ECMAScript WhiteSpace and LineTerminator code points (what String.prototype.trim removes,
# and what a regular expression's \s matches).
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def js_trim(text: str) -> str:
    return text.strip(JS_WHITESPACE)


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


def to_js_string(value: Any) -> str:
    """JavaScript's String(value) for JSON-like values; an object is "[object Object]"
    (ToPrimitiveError where V8 throws, see object_to_string). NestingTooDeepError for
    arrays past MAX_NESTING levels."""
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
        return deep_call(_join, value, 0)
    if kind is JSFunction:
        return f"function {value.name}() {{ [native code] }}"
    if kind is JSPrototype:
        return _PROTOTYPE_STRINGS[value.kind]
    if isinstance(value, dict):
        return object_to_string(value)
    return "[object Object]"


def object_to_string(obj: dict[str, Any]) -> str:
    """ToPrimitive of an object, for any hint: JSON gives no callable `valueOf`, so the
    `toString` found on the object or its prototypes decides. Object.prototype's prints
    "[object Object]"; where it is shadowed by a key (not a function) or missing (a null
    prototype), V8 throws "Cannot convert object to primitive value": ToPrimitiveError.
    """
    if type(obj) is dict and "toString" not in obj:
        return "[object Object]"  # the common case: no own toString
    method = _find(obj, "toString")
    if method is _ARRAY_TO_STRING:  # inherited from an array: that array's join
        items = [_find(obj, str(i)) for i in range(len(_array_proto(obj)))]
        return deep_call(_join, items, 0)
    if type(method) is JSFunction:  # a built-in placed by a mapping: read as Object's
        return "[object Object]"
    raise ToPrimitiveError


_ARRAY_TO_STRING = object()


def _find(obj: dict[str, Any], key: str) -> Any:
    """obj[key] through its prototypes (ProtoObject); Object.prototype's toString is
    a JSFunction, an array's the _ARRAY_TO_STRING marker."""
    node: Any = obj
    while True:
        if key in node:
            return node[key]
        if type(node) is not ProtoObject:
            return JSFunction("toString", 0) if key == "toString" else UNDEFINED
        node = node.proto
        if node is None:
            return UNDEFINED
        if type(node) is list:
            if key == "toString":
                return _ARRAY_TO_STRING
            index = int(key) if key.isdigit() else -1
            return node[index] if 0 <= index < len(node) else UNDEFINED


def _array_proto(obj: Any) -> list[Any]:
    while type(obj) is ProtoObject:
        obj = obj.proto
    return obj if type(obj) is list else []


# String(X.prototype) for each built-in prototype a property read can reach.
_PROTOTYPE_STRINGS = {
    "Object": "[object Object]",
    "Array": "",
    "String": "",
    "Number": "0",
    "Boolean": "false",
    "Function": "function () { [native code] }",
}


def _join(items: list[Any], depth: int) -> str:
    """Array.prototype.join(","): null and undefined items print as nothing."""
    if depth >= MAX_NESTING:
        raise NestingTooDeepError(MAX_NESTING)
    return ",".join(
        ""
        if item is None or item is UNDEFINED
        else _join(item, depth + 1)
        if type(item) is list
        else to_js_string(item)
        for item in items
    )
