"""JavaScript value semantics that the reference mapping-kit relies on.

The reference evaluates mappings in JavaScript, so coercions (truthiness,
String(), JSON.stringify, UTF-16 lengths) show through in its results. These
helpers reproduce them on plain JSON-like Python values.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any


class _Undefined:
    """JavaScript's `undefined`: a missing value, distinct from null (None)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()

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


def truthy(value: Any) -> bool:
    """JavaScript truthiness: containers are truthy even when empty."""
    if value is UNDEFINED or value is None or value is False:
        return False
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        return bool(value) and value == value  # NaN is falsy
    return True


def utf16_len(text: str) -> int:
    """String length as JavaScript counts it (UTF-16 code units)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf16_units(text: str) -> list[str]:
    """The string split into UTF-16 code units (astral chars become two surrogates)."""
    if all(ord(ch) < 0x10000 for ch in text):
        return list(text)
    raw = text.encode("utf-16-le", "surrogatepass")
    return [raw[i : i + 2].decode("utf-16-le", "surrogatepass") for i in range(0, len(raw), 2)]


def js_trim(text: str) -> str:
    return text.strip(JS_WHITESPACE)


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


def to_js_string(value: Any) -> str:
    """JavaScript's String(value) for JSON-like values."""
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
        return ",".join("" if v is None or v is UNDEFINED else to_js_string(v) for v in value)
    return "[object Object]"


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


def _is_index_key(key: str) -> bool:
    return (
        key.isdigit() and key.isascii() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1
    )


def js_key_order(obj: dict[str, Any]) -> list[str]:
    """Own-key order of a JavaScript object: array indices ascending, then insertion order."""
    indices = [k for k in obj if _is_index_key(k)]
    if not indices:
        return list(obj)
    indices.sort(key=int)
    return indices + [k for k in obj if not _is_index_key(k)]


def _encode_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def json_stringify(value: Any) -> Any:
    """JSON.stringify(value): UNDEFINED for undefined, else the compact JSON text."""
    if value is UNDEFINED:
        return UNDEFINED
    return _stringify(value)


def _stringify(value: Any) -> str:
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
    if isinstance(value, list):
        return "[" + ",".join("null" if v is UNDEFINED else _stringify(v) for v in value) + "]"
    if isinstance(value, dict):
        parts = [
            f"{_encode_string(k)}:{_stringify(value[k])}"
            for k in js_key_order(value)
            if value[k] is not UNDEFINED
        ]
        return "{" + ",".join(parts) + "}"
    return "null"


def _parse_int(text: str) -> int | float:
    number = int(text)
    return number if -_MAX_SAFE <= number <= _MAX_SAFE else float(number)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_parse(text: str) -> Any:
    """JSON.parse: raises ValueError where JavaScript would throw a SyntaxError."""
    return json.loads(text, parse_int=_parse_int, parse_constant=_reject_constant)
