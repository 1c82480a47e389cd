"""Payload validation, compiled once per action, behaving as actions-core's.

actions-core runs three steps on a mapped payload: it drops empty values
(`null` where the field is not nullable, `""` at the top level), then validates
with ajv configured to coerce types (`coerceTypes: "array"`) and to remove keys
that are not fields. Every problem is reported, in ajv's order: missing required
fields first, then each field in declaration order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from kameleoon_relay.actions.definitions import Field
from kameleoon_relay.actions.errors import PayloadValidationError
from kameleoon_relay.js.numbers import number_to_string
from kameleoon_relay.js.values import JSPrototype, real_type_of

_MISSING = object()

# A checker returns (value to keep, problem or None).
Checker = Callable[[Any], tuple[Any, str | None]]

_JSON_SCHEMA_TYPE = {"string": "string", "text": "string", "password": "string"}

# ajv-formats splits on the first "t" or whitespace and needs exactly two parts; neither
# part's pattern admits another "t" or space, so one anchored pattern is equivalent.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# The ranges are in the pattern (month 01-12, day 01-31, 00:00:00-23:59:59 or the leap
# second 23:59:60), so only a day past the 28th needs its month and year read.
_DATE_TIME = re.compile(  # JavaScript's \d is ASCII only, its \s is the set above
    r"([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[tT" + _JS_SPACE + r"]"
    r"(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|23:59:60)"
    r"(?:\.[0-9]+)?(?:[zZ]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _js_typeof_phrase(value: Any) -> str:
    """How ajv-human-errors names a value's type ("a number", "an array", "null")."""
    kind = real_type_of(value)
    if type(value) is JSPrototype and kind not in ("array", "function"):
        kind = "object"  # Number.prototype is a Number object: typeof says "object"
    return kind if kind == "null" else f"{_article(kind)} {kind}"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def is_date_time(text: str) -> bool:
    """ajv-formats' full `date-time`: RFC 3339, but the zone may be left out."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        return False
    year, month, day = match.groups()
    if day <= "28":
        return True
    month_number = int(month)
    if month_number != 2:
        return int(day) <= _DAYS[month_number]
    number = int(year)
    leap = number % 4 == 0 and (number % 100 != 0 or number % 400 == 0)
    return day == "29" and leap


_FORMATS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "date-time": ("date and time", is_date_time),
}


def _coerce_to_string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return number_to_string(value)
    if value is None:
        return ""
    return _MISSING


def _coerce_to_object(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    # ajv's test is `typeof x == "object" && !Array.isArray(x)`: String.prototype (a
    # String object), Number's, Boolean's and Object's pass; Array's and Function's fail.
    if type(value) is JSPrototype and value.kind in _OBJECT_PROTOTYPES:
        return value
    return _MISSING


_OBJECT_PROTOTYPES = frozenset({"Object", "String", "Number", "Boolean"})


def _coerce_to_number(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if value is None:
        return 0
    if isinstance(value, str) and value:
        try:
            number = float(value.strip()) if value.strip() else None
        except ValueError:
            return _MISSING
        if number is None:
            return 0
        return int(number) if number.is_integer() else number
    return _MISSING


def _coerce_to_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if value in ("false", 0, None) and not isinstance(value, float):
        return False
    if value in ("true", 1):
        return True
    return _MISSING


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "string": _coerce_to_string,
    "object": _coerce_to_object,
    "number": _coerce_to_number,
    "boolean": _coerce_to_boolean,
}


def _field_checker(spec: Field) -> Checker:
    json_type = _JSON_SCHEMA_TYPE.get(spec.type, spec.type)
    coerce = _COERCERS.get(json_type)
    if coerce is None:
        raise ValueError(f"unsupported field type {spec.type!r}")
    label = spec.label
    type_problem = f"{label} must be {_article(json_type)} {json_type} but it was "
    coercible = json_type != "object"
    fmt = _FORMATS.get(spec.format) if spec.format else None
    choices = spec.choices

    native = {"string": str, "object": dict}.get(json_type)
    plain = fmt is None and choices is None

    def check(value: Any) -> tuple[Any, str | None]:
        if plain and type(value) is native:
            return value, None
        # coerceTypes "array": a one-item array stands for its item, but only for
        # the scalar types ajv can coerce to (a failure then names the item's type).
        unwrap = coercible and isinstance(value, list) and len(value) == 1
        candidate = value[0] if unwrap else value
        coerced = coerce(candidate)
        if coerced is _MISSING:
            return value, f"{type_problem}{_js_typeof_phrase(candidate)}."
        if fmt is not None and isinstance(coerced, str) and not fmt[1](coerced):
            return coerced, f"{label} must be a valid {fmt[0]} string but it was not."
        if choices is not None and coerced not in choices:
            allowed = _human_list([f'"{choice}"' for choice in choices], "or")
            return coerced, f"{label} must be one of: {allowed}."
        return coerced, None

    return check


def _human_list(items: list[str], conjunction: str) -> str:
    if len(items) <= 2:
        return f" {conjunction} ".join(items)
    return f"{', '.join(items[:-1])}, {conjunction} {items[-1]}"


def compile_payload_validator(
    fields: Mapping[str, Field],
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Build `validate(payload) -> payload`, raising PayloadValidationError."""
    checkers = {key: _field_checker(spec) for key, spec in fields.items()}
    required = [key for key, spec in fields.items() if spec.required]
    # Per field, one lookup: its checker, the plain type a value needs no checker call
    # for (the common case; None when a format or choices apply), whether null is dropped.
    plans = {
        key: (
            checkers[key],
            {"string": str, "object": dict}.get(_JSON_SCHEMA_TYPE.get(spec.type, spec.type))
            if spec.format is None and spec.choices is None
            else None,
            not spec.allow_null,
        )
        for key, spec in fields.items()
    }

    def validate(payload: Mapping[str, Any]) -> dict[str, Any]:
        cleaned: dict[str, Any] = {}
        field_problems: dict[str, str] = {}
        for key, value in payload.items():
            # removeEmptyValues, then ajv's removeAdditional for unknown keys.
            plan = plans.get(key)
            if plan is None:
                continue
            check, native, drops_null = plan
            if type(value) is native:
                if value != "":
                    cleaned[key] = value
                continue
            if value == "" or (value is None and drops_null):
                continue
            value, problem = check(value)
            cleaned[key] = value
            if problem:
                field_problems[key] = problem
        missing = [key for key in required if key not in cleaned]
        if missing or field_problems:
            # ajv's order: required fields first, then fields in declaration order.
            problems = [f"The root value is missing the required field '{key}'." for key in missing]
            problems += [field_problems[key] for key in checkers if key in field_problems]
            raise PayloadValidationError(problems)
        return cleaned

    return validate
