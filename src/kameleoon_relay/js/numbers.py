"""JavaScript's one number type: how V8 prints a double, reads a string, holds a JSON number."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Final

MAX_SAFE = 2**53  # JS numbers are doubles: larger integers lose digits
_MAX_PLAIN_NUMBER = 1e21  # JS prints larger numbers in exponent form
# orjson writes ints in [-2**63, 2**64); a JS number outside stays a float so it can be stored.
_ORJSON_INT_RANGE = range(-(2**63), 2**64)

_JS_SPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_RADIX: Final = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}


def number_to_string(number: int | float) -> str:
    """Number.prototype.toString(): shortest round-trip digits, JS exponent rules."""
    if isinstance(number, int):
        if -MAX_SAFE <= number <= MAX_SAFE:
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


def as_number(value: Any) -> float | None:
    """The value as a float when ``typeof value === 'number'``, else None."""
    kind = type(value)
    if kind is float:
        return value
    if kind is int:
        try:
            return float(value)
        except OverflowError:  # JSON.parse reads huge integers as +/-Infinity
            return math.inf if value > 0 else -math.inf
    return None


def string_to_number(text: str) -> float:
    """Number(text) for a string: JS whitespace trimmed, decimal, radix or Infinity."""
    text = text.strip(_JS_SPACE)
    if not text:
        return 0.0
    if text in ("Infinity", "+Infinity", "-Infinity"):
        return -math.inf if text[0] == "-" else math.inf
    radix = _RADIX.get(text[:2])
    if radix:
        digits = text[2:]
        if not (digits.isascii() and digits.isalnum()):
            return math.nan
        try:
            return float(int(digits, radix))
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf
    return float(text) if _DECIMAL.fullmatch(text) else math.nan


def js_number(value: int | float) -> int | float:
    """A JS number (a double) as the Python value that orjson prints the way JS does.

    Integral values become ints (JS prints `10`, not `10.0`); past 2**53 the int
    carries JS's shortest digits, which is what JS would print for the double, unless
    that int is past what orjson (and so the store) writes: then it stays a float, the
    same double, which `json_stringify` prints as JS does.
    """
    if isinstance(value, int):
        if -MAX_SAFE <= value <= MAX_SAFE:
            return value
        value = as_number(value)  # type: ignore[assignment]
    if not value.is_integer() or abs(value) >= _MAX_PLAIN_NUMBER:
        return value
    if abs(value) <= MAX_SAFE:
        return int(value)
    shortest = int(number_to_string(value))
    return shortest if shortest in _ORJSON_INT_RANGE else value
