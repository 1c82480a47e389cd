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
from kameleoon_relay.fql.parser import Condition, Empty, Group, Node
from kameleoon_relay.js.errors import MemberReadError
from kameleoon_relay.js.members import member
from kameleoon_relay.js.numbers import as_number
from kameleoon_relay.js.operators import to_number
from kameleoon_relay.js.strings import to_js_string, utf16_units
from kameleoon_relay.js.values import UNDEFINED, truthy

Predicate = Callable[[dict[str, Any]], bool]

# The reference's path splitter (`get`): runs of anything but "[", "." and "]".
_PATH_KEY: Final = re.compile(r"[^\[.\]]+")


def _walk(value: Any, keys: tuple[str, ...]) -> Any:
    """The reference's ``get``: ``keys.reduce((o, k) => o && o[k], value)``."""
    try:
        for key in keys:
            if type(value) is dict:
                found = value.get(key, UNDEFINED)
                value = member(value, key) if found is UNDEFINED else found
            elif truthy(value):
                value = member(value, key)
            else:
                return value  # a falsy value (0, "", false, null) stops the walk: the result
    except MemberReadError as error:  # the read throws in the reference: validate fails
        raise FQLEvaluationError(str(error)) from None
    return value


def _fail(message: str) -> bool:
    raise FQLEvaluationError(message)


def _number(value: Any) -> float:
    # Only called for ints too large to compare exactly the way a double does.
    number = as_number(value)
    assert number is not None
    return number


def _units(value: str) -> str:
    """``value`` with each UTF-16 unit as one character (surrogate pairs split)."""
    return "".join(utf16_units(value))


# Integers within +/-2**53 are exact doubles, so Python compares them as JS does.
_EXACT: Final = 2**53
_NUMBER_OPS: Final = {
    "number_equals": "==",
    "number_not_equals": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}
# operator -> a test over the string v and the needle c
_STRING_OPS: Final = {
    "contains": "{c} in {v}",
    "not_contains": "{c} not in {v}",
    "starts_with": "{v}.startswith({c})",
    "not_starts_with": "not {v}.startswith({c})",
    "ends_with": "{v}.endswith({c})",
    "not_ends_with": "not {v}.endswith({c})",
}


class _Generator:
    """Writes the predicate's source; constants and helpers go into its namespace."""

    def __init__(self) -> None:
        self.names = itertools.count()
        self.defs: list[str] = []
        self.namespace: dict[str, Any] = {
            "U": UNDEFINED,
            "_walk": _walk,
            "_fail": _fail,
            "_number": _number,
            "_units": _units,
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

    def accessor(self, source: str, keys: tuple[str, ...]) -> str:
        """A function reading the path: plain dict steps inline, the rest via ``_walk``."""
        name = f"path{next(self.names)}"
        lines = [f"def {name}(e):", f"    v = e.get({source!r}, U)"]
        for index, key in enumerate(keys):
            rest = self.const(keys[index:])
            lines.append(f"    if type(v) is not dict or (w := v.get({key!r}, U)) is U:")
            lines.append(f"        return _walk(v, {rest})")
            lines.append("    v = w")
        lines.append("    return v")
        self.defs.append("\n".join(lines))
        return f"{name}(e)"

    def actual(self, cond: Condition) -> str:
        if cond.path is None:
            return f"e.get({cond.source!r}, U)"
        if not cond.path:
            return "U"  # the reference's get() answers undefined for an empty path
        keys = tuple(_PATH_KEY.findall(cond.path))
        if not keys:
            message = f"cannot read the path {cond.path!r} (the reference throws)"
            return f"_fail({self.const(message)})"
        return self.accessor(cond.source, keys)

    def condition(self, cond: Condition) -> str:
        actual = self.actual(cond)
        op = cond.operator
        if op in ("=", "!="):
            return (
                f"({actual} {'==' if op == '=' else '!='} {self.const(to_js_string(cond.value))})"
            )
        if op in _NUMBER_OPS:
            cmp, bound = _NUMBER_OPS[op], self.const(to_number(cond.value))
            exact = f"-{_EXACT} <= v <= {_EXACT}"
            return (
                f"((type(v := {actual}) is float and v {cmp} {bound}) or "
                f"(type(v) is int and (v {cmp} {bound} if {exact} else _number(v) {cmp} {bound})))"
            )
        if op in _STRING_OPS:
            needle = to_js_string(cond.value)
            units = _units(needle)
            if units == needle and not any("\ud800" <= ch <= "\udfff" for ch in needle):
                test = _STRING_OPS[op].format(v="v", c=self.const(needle))
            else:  # the needle splits a surrogate pair: compare UTF-16 units
                test = _STRING_OPS[op].format(v="_units(v)", c=self.const(units))
            return f"(type(v := {actual}) is str and {test})"
        if op == "exists":
            return f"((v := {actual}) is not U and v is not None)"
        if op == "not_exists":
            return f"((v := {actual}) is U or v is None)"
        if op in ("is_true", "is_false"):
            return f"({actual} is {op == 'is_true'})"
        return f"({actual} is U and False)"  # other operator tokens never match


def compile_ast(tree: Group) -> Predicate:
    """Build the predicate for a parsed trigger."""
    generator = _Generator()
    body = generator.node(tree)
    source = "\n\n".join([*generator.defs, f"def predicate(e):\n    return {body}\n"])
    exec(compile(source, "<fql trigger>", "exec"), generator.namespace)
    predicate: Predicate = generator.namespace["predicate"]
    return predicate
