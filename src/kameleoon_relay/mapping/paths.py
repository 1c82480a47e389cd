"""Path lookup as the reference's `get` does it (`a.b`, `a[0]`, `a['b c']`).

The reference walks with `prev && prev[key]`, so a falsy value met on the way
(0, "", false, null) is returned as is, strings and arrays answer `length` and
numeric indices, and every value answers what it inherits (`constructor`,
`toString`, `__proto__`, ...: built-in functions and prototypes, js.members).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kameleoon_relay.js.members import INHERITED_NAMES, OBJECT_MEMBERS, member
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


def reads_only_json(keys: tuple[str, ...] | None) -> bool:
    """Whether the path can only reach JSON values (no inherited member on the way)."""
    return keys is None or INHERITED_NAMES.isdisjoint(keys)


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
    if not OBJECT_MEMBERS.isdisjoint(keys):
        # An object answers these from its prototype when it lacks them: no dict lanes.
        return lambda value: get_keys(value, keys)
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
