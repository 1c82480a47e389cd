"""Path lookup as the reference's `get` does it (`a.b`, `a[0]`, `a['b c']`).

The reference walks with `prev && prev[key]`, so a falsy value met on the way
(0, "", false, null) is returned as is, and strings and arrays answer `length`
and numeric indices. Prototype members (`constructor`, `toString`, ...) are not
reproduced: they are functions, which JSON cannot carry anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kameleoon_relay.js.strings import utf16_length, utf16_units
from kameleoon_relay.js.values import UNDEFINED, truthy

# Split on "[" before a quote or digit, on ".", and on "]"s after a quote or digit.
_SEPARATORS = re.compile(r"""\[(?=["'0-9])|\.|(?<=["'0-9])\]+""")
_WHOLE = ("", ".")


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...] | None:
    """Keys of a path; None means the path names the whole object."""
    if path in _WHOLE:
        return None
    parts = (p for p in _SEPARATORS.split(path) if p)
    return tuple(p.replace("'", "").replace('"', "") for p in parts)


def _index(key: str, size: int) -> int | None:
    if key.isascii() and key.isdigit() and (key == "0" or key[0] != "0"):
        index = int(key)
        return index if index < size else None
    return None


def member(value: Any, key: str) -> Any:
    """`value[key]` for a truthy JSON-like value."""
    if isinstance(value, dict):
        return value.get(key, UNDEFINED)
    if isinstance(value, list):
        if key == "length":
            return len(value)
        index = _index(key, len(value))
        return UNDEFINED if index is None else value[index]
    if isinstance(value, str):
        if key == "length":
            return utf16_length(value)
        units = utf16_units(value)
        index = _index(key, len(units))
        return UNDEFINED if index is None else units[index]
    return UNDEFINED


def get_keys(value: Any, keys: tuple[str, ...] | None) -> Any:
    if keys is None:
        return value
    for key in keys:
        if not truthy(value):
            return value
        value = member(value, key)
    return value


def compile_keys(keys: tuple[str, ...] | None) -> Callable[[Any], Any]:
    """`get_keys` specialised to one path; objects (the common case) take a fast lane."""
    if keys is None:
        return lambda value: value
    if len(keys) == 1:
        (only,) = keys

        def get_one(value: Any) -> Any:
            if type(value) is dict:
                return value.get(only, UNDEFINED)
            return get_keys(value, keys)

        get_one.path_key = only  # type: ignore[attr-defined]  # callers may inline the lookup
        return get_one
    if len(keys) == 2:
        first, second = keys

        def get_two(value: Any) -> Any:
            if type(value) is dict:
                inner = value.get(first, UNDEFINED)
                if type(inner) is dict:
                    return inner.get(second, UNDEFINED)
            return get_keys(value, keys)

        return get_two
    return lambda value: get_keys(value, keys)


def get(value: Any, path: str) -> Any:
    return get_keys(value, split_path(path))


def strip_root(path: str) -> str:
    """The reference drops the first `$.` found anywhere in a path."""
    return path.replace("$.", "", 1)
