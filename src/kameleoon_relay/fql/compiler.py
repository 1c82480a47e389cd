"""Compile a parsed trigger into one Python function (generated source, built once).

Each condition becomes an expression over the event ``e``; groups become
``and``/``or`` chains, which short-circuit left to right like the reference's
``every``/``some`` (this matters when a branch throws).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any, Final

from kameleoon_relay.fql.errors import FQLEvaluationError
from kameleoon_relay.fql.jsvalue import (
    UNDEFINED,
    as_number,
    member,
    to_number,
    to_string,
    truthy,
    utf16_units,
)
from kameleoon_relay.fql.parser import Condition, Empty, Group, Node

Predicate = Callable[[dict[str, Any]], bool]

# The reference's path splitter (`get`): runs of anything but "[", "." and "]".
_PATH_KEY: Final = re.compile(r"[^\[.\]]+")


def _walk(value: Any, keys: tuple[str, ...]) -> Any:
    """The reference's ``get``: ``keys.reduce((o, k) => o && o[k], value)``."""
    for key in keys:
        if type(value) is dict:
            found = value.get(key, UNDEFINED)
            value = member(value, key) if found is UNDEFINED else found
        elif truthy(value):
            value = member(value, key)
        else:
            return value  # a falsy value (0, "", false, null) stops the walk and is the result
    return value


def _fail(message: str) -> bool:
    raise FQLEvaluationError(message)


def _exists(actual: Any) -> bool:
    return actual is not UNDEFINED and actual is not None


def _absent(actual: Any) -> bool:
    return actual is UNDEFINED or actual is None


def _never(actual: Any) -> bool:
    return False


def _number_op(compare: Callable[[float, float], bool]) -> Callable[[Any, float], bool]:
    def check(actual: Any, expected: float) -> bool:
        number = as_number(actual)
        return number is not None and compare(number, expected)

    return check


def _string_op(
    compare: Callable[[str, str], bool], negate: bool
) -> Callable[[Any, str, bool], bool]:
    def check(actual: Any, expected: str, by_units: bool) -> bool:
        if type(actual) is not str:
            return False
        if by_units:  # the needle splits a surrogate pair: compare UTF-16 units
            actual = "".join(utf16_units(actual))
        return compare(actual, expected) is not negate

    return check


_NUMBER_OPS: Final = {
    "number_equals": _number_op(lambda a, b: a == b),
    "number_not_equals": _number_op(lambda a, b: a != b),
    "<": _number_op(lambda a, b: a < b),
    "<=": _number_op(lambda a, b: a <= b),
    ">": _number_op(lambda a, b: a > b),
    ">=": _number_op(lambda a, b: a >= b),
}
_STRING_OPS: Final = {
    "contains": _string_op(lambda a, b: b in a, False),
    "not_contains": _string_op(lambda a, b: b in a, True),
    "starts_with": _string_op(str.startswith, False),
    "not_starts_with": _string_op(str.startswith, True),
    "ends_with": _string_op(str.endswith, False),
    "not_ends_with": _string_op(str.endswith, True),
}


class _Generator:
    def __init__(self) -> None:
        self.names = itertools.count()
        self.namespace: dict[str, Any] = {
            "U": UNDEFINED,
            "_walk": _walk,
            "_fail": _fail,
            "_exists": _exists,
            "_absent": _absent,
            "_never": _never,
        }

    def const(self, value: Any) -> str:
        name = f"c{next(self.names)}"
        self.namespace[name] = value
        return name

    def node(self, node: Node) -> str:
        if isinstance(node, Group):
            joiner = " and " if node.operator == "and" else " or "
            return "(" + joiner.join(self.node(child) for child in node.children) + ")"
        if isinstance(node, Empty):
            return f"_fail({self.const(f'empty group at position {node.position}')})"
        return self.condition(node)

    def actual(self, cond: Condition) -> str:
        root = f"e.get({cond.source!r}, U)"
        if cond.path is None:
            return root
        if not cond.path:
            return "U"
        keys = tuple(_PATH_KEY.findall(cond.path))
        if not keys:
            message = f"cannot read the path {cond.path!r} (the reference throws)"
            return f"_fail({self.const(message)})"
        return f"_walk({root}, {self.const(keys)})"

    def condition(self, cond: Condition) -> str:
        actual = self.actual(cond)
        op = cond.operator
        if op == "=":
            return f"({actual} == {self.const(to_string(cond.value))})"
        if op == "!=":
            return f"({actual} != {self.const(to_string(cond.value))})"
        if op in _NUMBER_OPS:
            check = self.const(_NUMBER_OPS[op])
            return f"{check}({actual}, {self.const(to_number(cond.value))})"
        if op in _STRING_OPS:
            needle = to_string(cond.value)
            units = "".join(utf16_units(needle))
            by_units = units != needle or any("\ud800" <= ch <= "\udfff" for ch in needle)
            check = self.const(_STRING_OPS[op])
            return f"{check}({actual}, {self.const(units if by_units else needle)}, {by_units})"
        if op == "exists":
            return f"_exists({actual})"
        if op == "not_exists":
            return f"_absent({actual})"
        if op == "is_true":
            return f"({actual} is True)"
        if op == "is_false":
            return f"({actual} is False)"
        return f"_never({actual})"  # any other operator token never matches


def compile_ast(tree: Group) -> Predicate:
    """Build the predicate for a parsed trigger."""
    generator = _Generator()
    body = generator.node(tree)
    source = f"def predicate(e):\n    return {body}\n"
    exec(compile(source, "<fql trigger>", "exec"), generator.namespace)
    predicate: Predicate = generator.namespace["predicate"]
    return predicate
