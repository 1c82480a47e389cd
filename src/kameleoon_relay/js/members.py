"""Property reads as JavaScript does them: own keys, array and string indexes, `length`,
and what every value inherits from the built-in prototypes of Node 20."""

from __future__ import annotations

from typing import Any, Final

from kameleoon_relay.js.errors import MemberReadError
from kameleoon_relay.js.operators import property_key
from kameleoon_relay.js.strings import utf16_length, utf16_units
from kameleoon_relay.js.values import (
    UNDEFINED,
    JSFunction,
    JSPrototype,
    ProtoObject,
    is_index_key,
)


# Own members of the built-in prototypes in Node 20: method name -> (function name, arity).
# Kept as data so the property reads below stay one lookup.
def _methods(spec: str, constructor: str) -> dict[str, tuple[str, int]]:
    table = {"constructor": (constructor, 1)}
    for item in spec.split():
        name, _, rest = item.partition(":")
        arity, _, fname = rest.partition(":")
        table[name] = (fname or name, int(arity))
    return table


_OBJECT_METHODS: Final = _methods(
    "__defineGetter__:2 __defineSetter__:2 hasOwnProperty:1 __lookupGetter__:1 "
    "__lookupSetter__:1 isPrototypeOf:1 propertyIsEnumerable:1 toString:0 valueOf:0 "
    "toLocaleString:0",
    "Object",
)
# Every name a plain object inherits, e.g. what `{}[name]` finds.
OBJECT_MEMBERS: Final = frozenset(_OBJECT_METHODS) | {"__proto__"}
_PROTO_METHODS: Final[dict[str, dict[str, tuple[str, int]]]] = {
    "Object": _OBJECT_METHODS,
    "Array": _methods(
        "at:1 concat:1 copyWithin:2 fill:1 find:1 findIndex:1 findLast:1 findLastIndex:1 "
        "lastIndexOf:1 pop:0 push:1 reverse:0 shift:0 unshift:1 slice:2 sort:1 splice:2 "
        "includes:1 indexOf:1 join:1 keys:0 entries:0 values:0 forEach:1 filter:1 flat:0 "
        "flatMap:1 map:1 every:1 some:1 reduce:1 reduceRight:1 toLocaleString:0 toString:0 "
        "toReversed:0 toSorted:1 toSpliced:2 with:2",
        "Array",
    ),
    "String": _methods(
        "anchor:1 at:1 big:0 blink:0 bold:0 charAt:1 charCodeAt:1 codePointAt:1 concat:1 "
        "endsWith:1 fontcolor:1 fontsize:1 fixed:0 includes:1 indexOf:1 isWellFormed:0 "
        "italics:0 lastIndexOf:1 link:1 localeCompare:1 match:1 matchAll:1 normalize:0 "
        "padEnd:1 padStart:1 repeat:1 replace:2 replaceAll:2 search:1 slice:2 small:0 "
        "split:2 strike:0 sub:0 substr:2 substring:2 sup:0 startsWith:1 toString:0 "
        "toWellFormed:0 trim:0 trimStart:0 trimLeft:0:trimStart trimEnd:0 "
        "trimRight:0:trimEnd toLocaleLowerCase:0 toLocaleUpperCase:0 toLowerCase:0 "
        "toUpperCase:0 valueOf:0",
        "String",
    ),
    "Number": _methods(
        "toExponential:1 toFixed:1 toPrecision:1 toString:1 valueOf:0 toLocaleString:0", "Number"
    ),
    "Boolean": _methods("toString:0 valueOf:0", "Boolean"),
    "Function": _methods("apply:2 bind:1 call:1 toString:0", "Function"),
}


# Every name some JSON value inherits: a path through one of them may reach a built-in
# function or prototype rather than JSON.
INHERITED_NAMES: Final = frozenset(name for table in _PROTO_METHODS.values() for name in table) | {
    "__proto__"
}


def _proto_member(kind: str, key: str) -> Any:
    """Read ``key`` through the prototype chain of a ``kind`` value."""
    if key == "__proto__":
        return JSPrototype(kind)
    own = _PROTO_METHODS[kind].get(key) or _OBJECT_METHODS.get(key)
    return JSFunction(*own) if own else UNDEFINED


def member(value: Any, key: str) -> Any:
    """``value[key]`` for a truthy JavaScript value, inherited members included.

    MemberReadError where JavaScript throws.
    """
    kind = type(value)
    if kind is dict:
        found = value.get(key, UNDEFINED)
        return _proto_member("Object", key) if found is UNDEFINED else found
    if kind is list:
        if is_index_key(key) and int(key) < len(value):
            return value[int(key)]
        return len(value) if key == "length" else _proto_member("Array", key)
    if kind is str:
        units = utf16_units(value)
        if is_index_key(key) and int(key) < len(units):
            return units[int(key)]
        return len(units) if key == "length" else _proto_member("String", key)
    if kind is bool:
        return _proto_member("Boolean", key)
    if kind is int or kind is float:
        return _proto_member("Number", key)
    if kind is JSFunction:
        return _function_member(value, key)
    if kind is JSPrototype:
        return _prototype_member(value, key)
    if kind is ProtoObject:
        return _inherited_member(value, key)
    return _proto_member("Object", key)


def _inherited_member(obj: ProtoObject, key: str) -> Any:
    """obj[key] along the prototypes a copy was given: ProtoObjects, then a plain object
    or an array (which answer with their own built-in prototypes), or null (nothing)."""
    node: Any = obj
    while type(node) is ProtoObject:
        if key in node:
            return node[key]
        node = node.proto
        if node is None:
            return UNDEFINED
    if key == "__proto__" and not (type(node) is dict and key in node):
        return obj.proto  # Object.prototype's getter, read on obj
    return member(node, key)


def _function_member(func: JSFunction, key: str) -> Any:
    if key == "name":
        return func.name
    if key == "length":
        return func.length
    if key == "__proto__":
        return JSPrototype("Function")
    if key == "prototype" and func.name in _PROTO_METHODS and func.length == 1:
        return JSPrototype(func.name)  # a built-in constructor such as Object
    return _prototype_member(JSPrototype("Function"), key)


def _prototype_member(proto: JSPrototype, key: str) -> Any:
    if key == "__proto__":
        return None if proto.kind == "Object" else JSPrototype("Object")
    if proto.kind == "Function" and key in ("caller", "arguments"):
        # Function.prototype guards these with a throwing accessor.
        raise MemberReadError(f"'{key}' may not be read on a built-in function")
    if key == "length" and proto.kind in ("Array", "String", "Function"):
        return 0
    if key == "name" and proto.kind == "Function":
        return ""
    return _proto_member(proto.kind, key)


def js_length(value: Any) -> Any:
    """value.length of a JSON-like value (UNDEFINED when it has none)."""
    kind = type(value)
    if kind is str:
        return utf16_length(value)
    if kind is list:
        return len(value)
    if kind is dict or kind is ProtoObject:
        return value.get("length", UNDEFINED)
    return UNDEFINED


def has_own(obj: Any, key: Any) -> bool:
    """Object.hasOwnProperty.call(obj, key) on JSON-like values."""
    kind = type(obj)
    if kind is dict or kind is ProtoObject:
        return property_key(key) in obj
    if kind is list or kind is str:
        name = property_key(key)
        if name == "length":
            return True
        if is_index_key(name):
            return int(name) < (len(obj) if kind is list else utf16_length(obj))
    return False


def get_own(obj: Any, key: Any) -> Any:
    """obj[key] for an own property (has_own(obj, key) holds)."""
    kind = type(obj)
    if kind is dict or kind is ProtoObject:
        return obj[property_key(key)]
    name = property_key(key)
    if name == "length":
        return len(obj) if kind is list else utf16_length(obj)
    if kind is list:
        return obj[int(name)]
    return utf16_units(obj)[int(name)] if not obj.isascii() else obj[int(name)]


def read_own(obj: Any, key: Any) -> Any:
    """obj[key] when it is an own property, else UNDEFINED."""
    return get_own(obj, key) if has_own(obj, key) else UNDEFINED
