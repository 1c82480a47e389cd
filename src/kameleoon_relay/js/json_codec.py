"""JSON.parse and JSON.stringify as V8 does them, on the JavaScript value model."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.numbers import js_number, number_to_string
from kameleoon_relay.js.objects import js_key_order, js_ordered
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.values import MAX_NESTING, UNDEFINED, JSFunction, JSPrototype, nesting_depth


def _parse_number(text: str) -> int | float:
    """A JSON number as JSON.parse reads it: the nearest double, held as js_number holds it
    (`1e2` and `1.0` are 100 and 1, `-0.0` is 0, `1e400` Infinity, 20 digits V8's)."""
    if len(text) <= 15 and text.isdigit():
        return int(text)  # the common case: exact as a double, no conversion
    return js_number(float(text))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_parse(text: str) -> Any:
    """JSON.parse: raises ValueError where JavaScript would throw a SyntaxError, and
    NestingTooDeepError past MAX_NESTING levels."""
    parsed = deep_call(
        json.loads,
        text,
        parse_int=_parse_number,
        parse_float=_parse_number,
        parse_constant=_reject_constant,
        object_pairs_hook=lambda pairs: js_ordered(dict(pairs)),
    )
    if nesting_depth(parsed, MAX_NESTING) > MAX_NESTING:
        raise NestingTooDeepError(MAX_NESTING)
    return parsed


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
    """JSON.stringify(value): UNDEFINED for undefined (and a function), else the JSON text."""
    if _omitted(value):
        return UNDEFINED
    return deep_call(_stringify, value, 0)


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
        raise NestingTooDeepError(MAX_NESTING)
    if isinstance(value, list):
        items = ("null" if _omitted(v) else _stringify(v, depth + 1) for v in value)
        return "[" + ",".join(items) + "]"
    if isinstance(value, dict):
        parts = [
            f"{_encode_string(k)}:{_stringify(value[k], depth + 1)}"
            for k in js_key_order(value)
            if not _omitted(value[k])
        ]
        return "{" + ",".join(parts) + "}"
    if type(value) is JSPrototype:
        return _PROTOTYPE_JSON[value.kind]
    return "null"


def _omitted(value: Any) -> bool:
    """What JSON.stringify leaves out of an object (null in an array): undefined, functions."""
    return (
        value is UNDEFINED
        or type(value) is JSFunction
        or (type(value) is JSPrototype and value.kind == "Function")
    )


# JSON.stringify(X.prototype): Array.prototype is an array, String.prototype a String...
_PROTOTYPE_JSON = {"Object": "{}", "Array": "[]", "String": '""', "Number": "0", "Boolean": "false"}
