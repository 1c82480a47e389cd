"""JavaScript value semantics that the reference mapping-kit relies on.

The reference evaluates mappings in JavaScript, so coercions (truthiness,
String(), JSON.stringify, UTF-16 lengths) show through in its results. These
helpers reproduce them on plain JSON-like Python values.
"""

from __future__ import annotations

import json
from typing import Any

from kameleoon_relay.js.values import (
    MAX_NESTING,
    UNDEFINED,
    NestingError,
    js_key_order,
    js_ordered,
    json_stringify,
    nesting_depth,
    number_to_string,
    to_js_string,
    truthy,
    utf16_units,
)
from kameleoon_relay.js.values import utf16_length as utf16_len

__all__ = [
    "UNDEFINED",
    "js_key_order",
    "json_stringify",
    "number_to_string",
    "to_js_string",
    "truthy",
    "utf16_len",
    "utf16_units",
]


# ECMAScript WhiteSpace and LineTerminator code points (what String.prototype.trim removes).
JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_MAX_SAFE = 2**53


def real_type_of(value: Any) -> str:
    """The reference's realTypeOf: the lower-cased Object.prototype.toString tag."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "function" if callable(value) else "object"


def type_of(value: Any) -> str:
    """JavaScript's `typeof` operator."""
    kind = real_type_of(value)
    return "object" if kind in ("null", "array") else kind


def js_trim(text: str) -> str:
    return text.strip(JS_WHITESPACE)


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
    return False


def _parse_int(text: str) -> int | float:
    number = int(text)
    return number if -_MAX_SAFE <= number <= _MAX_SAFE else float(number)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_parse(text: str) -> Any:
    """JSON.parse: raises ValueError where JavaScript would throw a SyntaxError."""
    try:
        parsed = json.loads(
            text,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
            object_pairs_hook=lambda pairs: js_ordered(dict(pairs)),
        )
    except RecursionError:
        raise NestingError() from None
    if nesting_depth(parsed, MAX_NESTING) > MAX_NESTING:
        raise NestingError()
    return parsed
