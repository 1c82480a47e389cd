"""Give parsed JSON the shape it has in JavaScript, where the reference runs.

Two differences change the bytes Kameleoon receives: JavaScript objects list
integer-like keys first in ascending order, and JavaScript has one number type,
so `10.0` serialises as `10`. Applying this once at ingest keeps every later
stage (mapping, body serialisation) identical to the reference at no per-delivery cost.
"""

from __future__ import annotations

from typing import Any

_MAX_ARRAY_INDEX = 2**32 - 2  # JS orders keys that are valid array indices first
_MAX_SAFE_FLOAT_INT = 1e21  # JS prints larger numbers in exponent form
_MAX_EXACT_INT = 2**53  # JS numbers are doubles: larger integers lose digits


def _is_index_key(key: str) -> bool:
    if not key.isdigit() or not key.isascii():
        return False
    if len(key) > 1 and key[0] == "0":
        return False
    return int(key) <= _MAX_ARRAY_INDEX


def as_js_value(value: Any) -> Any:
    """Return `value` with JavaScript's key order and number identity."""
    if isinstance(value, dict):
        converted = {key: as_js_value(item) for key, item in value.items()}
        index_keys = [key for key in converted if _is_index_key(key)]
        if not index_keys:
            return converted
        ordered = {key: converted[key] for key in sorted(index_keys, key=int)}
        for key, item in converted.items():
            if key not in ordered:
                ordered[key] = item
        return ordered
    if isinstance(value, list):
        return [as_js_value(item) for item in value]
    if isinstance(value, float):
        return _js_float(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_EXACT_INT:
        return _js_float(float(value))
    return value


def _js_float(value: float) -> int | float:
    """A JS number as the Python value that orjson prints the way JS does.

    Integral values become ints (JS prints `10`, not `10.0`); past 2**53 the int
    carries JS's shortest digits, which is what JS would print for the double.
    """
    if not value.is_integer() or abs(value) >= _MAX_SAFE_FLOAT_INT:
        return value
    if abs(value) <= _MAX_EXACT_INT:
        return int(value)
    return int(js_number_str(value))


def js_number_str(number: int | float) -> str:
    """`String(number)` as JavaScript writes it (shortest round-trip digits)."""
    if isinstance(number, bool):
        return "true" if number else "false"
    if isinstance(number, int):
        if abs(number) < _MAX_SAFE_FLOAT_INT:
            return str(number)
        number = float(number)
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    mantissa, _, exp_text = repr(abs(number)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    # Decimal exponent of the first significant digit, from repr's own notation.
    if exp_text:
        point = int(exp_text) + len(whole)
    elif whole != "0":
        point = len(whole)
    else:
        point = -(len(frac) - len(frac.lstrip("0")))
    digits = digits.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    exponent = n - 1
    exp_str = f"e{'+' if exponent > 0 else '-'}{abs(exponent)}"
    if k == 1:
        return sign + digits + exp_str
    return sign + digits[0] + "." + digits[1:] + exp_str
