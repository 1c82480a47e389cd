"""JavaScript strings: UTF-16 code units, `String(value)`, whitespace and trim."""

from __future__ import annotations

from typing import Any

from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.numbers import number_to_string
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.values import MAX_NESTING, UNDEFINED, JSFunction, JSPrototype

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
    """JavaScript's String(value) for JSON-like values; any other object is
    "[object Object]". NestingTooDeepError for arrays past MAX_NESTING levels."""
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
    return "[object Object]"


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
