"""The JavaScript value model over JSON-decoded Python values.

None is null, UNDEFINED is undefined, a list an Array, a dict a plain object;
JSFunction and JSPrototype stand for the built-ins a property read can reach.
Here: the model, type names, truthiness and nesting depth.
"""

from __future__ import annotations

from typing import Any

_MAX_ARRAY_INDEX = 2**32 - 2  # JS orders keys that are valid array indices first
# The deepest value or mapping the relay walks: above the depths at which the reference
# itself overflows V8's stack (about 1,800 to 4,200 levels, by operation), so nothing the
# reference maps is refused. Walks past Python's own stack go on a deep one (js.stack).
MAX_NESTING = 5000


class _Undefined:
    """JavaScript's `undefined`: a missing value, distinct from null (None)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


# Plain classes, not dataclasses: orjson would write a dataclass as an object, where
# JSON.stringify leaves a function out; refused by orjson, they go to json_stringify.
class JSFunction:
    """An inherited built-in method, e.g. what ``{}.constructor`` reads."""

    __slots__ = ("length", "name")

    def __init__(self, name: str, length: int) -> None:
        self.name, self.length = name, length

    def __repr__(self) -> str:
        return f"function {self.name}()"


class JSPrototype:
    """A built-in prototype object, what ``x.__proto__`` reads."""

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"{self.kind}.prototype"


class ProtoObject(dict):
    """A plain object whose prototype is not Object.prototype.

    Assigning a `__proto__` key sets the prototype instead of storing the key, so a copy
    that assigns keys (`Object.assign({}, o)`, the mapping-kit's) of an object holding an
    own `"__proto__"` (JSON.parse keeps one) inherits from that value when it is an object
    or null. `proto` is None (no prototype: no toString, so V8 cannot print it) or the
    dict or list it inherits from. Only such copies are of this class: it is rare, and
    the common paths test `type(x) is dict` first.
    """

    __slots__ = ("proto",)

    def __init__(self, items: dict[str, Any], proto: Any) -> None:
        super().__init__(items)
        self.proto = proto

    def __repr__(self) -> str:
        return f"ProtoObject({dict.__repr__(self)}, proto={self.proto!r})"


def real_type_of(value: Any) -> str:
    """The lower-cased Object.prototype.toString tag: "null", "array", "number", ..."""
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
    if isinstance(value, JSFunction) or callable(value):
        return "function"
    if isinstance(value, JSPrototype):  # String.prototype is a String object, and so on
        return value.kind.lower()
    return "object"


def type_of(value: Any) -> str:
    """JavaScript's `typeof` operator."""
    kind = real_type_of(value)
    return "object" if kind in ("null", "array") else kind


def is_number(value: Any) -> bool:
    """`typeof value === "number"`."""
    return type(value) is int or type(value) is float


def truthy(value: Any) -> bool:
    """JavaScript truthiness: `{}` and `[]` are true, `NaN`, `0`, `""` false."""
    kind = type(value)
    if kind is dict or kind is list:
        return True
    if kind is float:
        return value == value and value != 0.0
    return bool(value) or isinstance(value, dict)  # an empty ProtoObject is an object


def is_index_key(key: str) -> bool:
    """A canonical array index ("0", "12"; not "01")."""
    return (
        key.isdigit()
        and key.isascii()
        and (key == "0" or key[0] != "0")
        and int(key) <= _MAX_ARRAY_INDEX
    )


def nesting_depth(value: Any, limit: int | None = None) -> int:
    """Levels of objects and arrays in `value` (a scalar is 0), without recursion.

    With `limit`, stops counting as soon as the depth passes it (returning limit + 1).
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if type(node) is dict else node if type(node) is list else None
        if children is None:
            continue
        if depth > deepest:
            deepest = depth
            if limit is not None and deepest > limit:
                return deepest
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return deepest
