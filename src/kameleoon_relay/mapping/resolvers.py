"""Resolvers: a mapping compiled into `payload -> value`, and the directive registry.

Each node of the mapping becomes a resolver. Checks the reference makes on a
directive's options at evaluation time are decided here, once; a failing check
becomes a resolver that raises when (and only when) the reference would, so
unreached branches stay harmless as they are there.

The directives module registers its builders in `DIRECTIVES` and builds nested
nodes with `compile_node` and `compile_transform`; keeping those here, below the
directives, lets the recursion run without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kameleoon_relay.js.objects import PROTO_KEY, js_key_order, set_member
from kameleoon_relay.js.strings import utf16_units
from kameleoon_relay.js.values import UNDEFINED, JSPrototype, real_type_of
from kameleoon_relay.mapping.errors import MappingError, MappingEvaluationError
from kameleoon_relay.mapping.validate import is_directive, validate_mapping

ROOT_MAPPING_KEY = "__segment_internal_directive"

DIRECTIVES: dict[str, Callable[[Any], Resolver]] = {}

Resolver = Callable[[Any], Any]

# A "clean" resolver returns plain JSON with no undefined inside (at most the whole
# result is undefined), so its output needs no remove_undefined walk: @path values
# come straight from the JSON event (the @path builder marks those that cannot reach
# a built-in), @template's are strings. This keeps the per-event cost independent of
# how big `properties` or `context` are.
_CLEAN_DIRECTIVES = frozenset({"@template"})


def mark_clean(resolver: Resolver) -> Resolver:
    resolver.clean = True  # type: ignore[attr-defined]
    return resolver


def is_clean(resolver: Resolver | None) -> bool:
    return resolver is None or getattr(resolver, "clean", False)


def constant(value: Any) -> Resolver:
    return lambda payload: value


def failing(message: str) -> Resolver:
    def fail(payload: Any) -> Any:
        raise MappingEvaluationError(message)

    return fail


def has_directive(node: Any) -> bool:
    if isinstance(node, dict):
        return is_directive(node) or any(has_directive(v) for v in node.values())
    if isinstance(node, list):
        return any(has_directive(v) for v in node)
    return False


def compile_node(node: Any) -> Resolver:
    """The reference's `resolve`, specialised to one mapping node."""
    return _compile(node)[0]


def _compile(node: Any) -> tuple[Resolver, bool]:
    """The node's resolver, and whether the node holds no directive.

    Children are compiled first and tell whether they hold a directive, so a mapping
    is walked once however deep it is.
    """
    if isinstance(node, dict) and is_directive(node):
        name = next(k for k in node if k.startswith("@"))
        build = DIRECTIVES.get(name)  # filled by the directives module
        if build is None:
            return failing(f"{name} is not a valid directive, got undefined"), False
        built = build(node[name])
        return (mark_clean(built) if name in _CLEAN_DIRECTIVES else built), False
    if isinstance(node, list):
        compiled = [_compile(v) for v in node]
        if all(plain for _, plain in compiled):
            return _itself(node), True
        items = [f for f, _ in compiled]
        return (lambda payload: [f(payload) for f in items]), False
    if isinstance(node, dict):
        keyed = [(k, _compile(node[k])) for k in js_key_order(node)]
        if all(plain for _, (_, plain) in keyed) and PROTO_KEY not in node:
            return _itself(node), True
        fields = [(k, f) for k, (f, _) in keyed]
        if PROTO_KEY in node:
            return _assigning(fields), False
        # Undefined entries stay: @merge tells "absent" from "resolved to undefined".
        return (lambda payload: {k: f(payload) for k, f in fields}), False
    return _itself(node), True


def _assigning(fields: list[tuple[str, Resolver]]) -> Resolver:
    """An object node with a `__proto__` key: the reference assigns each key, and that
    one sets the result's prototype (js.objects.set_member)."""

    def build(payload: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, resolve in fields:
            out = set_member(out, key, resolve(payload))
        return out

    return build


def _itself(node: Any) -> Resolver:
    # Directive-free values resolve to themselves; nothing downstream mutates them.
    return mark_clean(constant(node))


def _compile_root(processed: Any) -> tuple[Resolver, bool]:
    """The root resolver, and whether its output is already free of undefined.

    A root object whose fields are all clean drops undefined entries as it builds
    itself, which is all remove_undefined would have done.
    """
    if isinstance(processed, dict) and not is_directive(processed) and has_directive(processed):
        fields = [(k, compile_node(processed[k])) for k in js_key_order(processed)]
        if all(is_clean(resolve) for _, resolve in fields):
            # A one-key path (`$.userId`) on an object payload is a dict lookup: inlined.
            lanes = [(k, resolve, getattr(resolve, "path_key", None)) for k, resolve in fields]

            def clean_root(payload: Any) -> dict[str, Any]:
                out = {}
                if type(payload) is dict:
                    lookup = payload.get
                    for key, resolve, direct in lanes:
                        value = resolve(payload) if direct is None else lookup(direct, UNDEFINED)
                        if value is not UNDEFINED:
                            out[key] = value
                    return out
                for key, resolve, _ in lanes:
                    value = resolve(payload)
                    if value is not UNDEFINED:
                        out[key] = value
                return out

            return clean_root, True
    resolve = compile_node(processed)
    return resolve, is_clean(resolve)


def remove_undefined(value: Any, *, nulls_in_arrays: bool = False) -> Any:
    """Copy without undefined object entries (array slots stay, or become null).

    As the reference copies (`Object.assign({}, o)`, `a.map(...)`), Object.prototype
    becomes `{}` and Array.prototype `[]`; other built-ins stay as they are. A
    `__proto__` key is not copied: Object.assign sets the copy's prototype with it
    (a ProtoObject), except in the final output (`nulls_in_arrays`), which is only
    sent, as JSON, where nothing inherited shows.
    """
    if type(value) is JSPrototype and value.kind in ("Object", "Array"):
        return {} if value.kind == "Object" else []
    if isinstance(value, dict):
        copy = {
            k: remove_undefined(v, nulls_in_arrays=nulls_in_arrays)
            for k, v in value.items()
            if v is not UNDEFINED and k != PROTO_KEY
        }
        if PROTO_KEY in value and not nulls_in_arrays:
            return set_member(copy, PROTO_KEY, value[PROTO_KEY])  # not a copy: as assigned
        return copy
    if isinstance(value, list):
        if nulls_in_arrays:
            return [
                None if v is UNDEFINED else remove_undefined(v, nulls_in_arrays=True) for v in value
            ]
        return [remove_undefined(v) for v in value]
    return value


def _spread(mapping: Any) -> dict[str, Any]:
    """`{...mapping}`: the reference copies the mapping this way before using it."""
    if isinstance(mapping, dict):
        return dict(mapping)
    if isinstance(mapping, list):
        return {str(i): v for i, v in enumerate(mapping)}
    if isinstance(mapping, str):
        return {str(i): ch for i, ch in enumerate(utf16_units(mapping))}
    return {}


def _own_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, list | str):
        return [str(i) for i in range(len(value))]
    if value is None or value is UNDEFINED:
        raise MappingError(["Cannot convert undefined or null to object"])
    return []


def mapping_to_process(mapping: Any) -> Any:
    """The reference's root-directive handling: `__segment_internal_directive`
    holds one directive whose `mapping` option receives the other fields."""
    keys = _own_keys(mapping)
    if ROOT_MAPPING_KEY not in keys:
        return _spread(mapping)
    customer = {k: v for k, v in mapping.items() if k != ROOT_MAPPING_KEY}
    root = mapping[ROOT_MAPPING_KEY]
    root_keys = _own_keys(root)
    if len(root_keys) > 1:
        raise MappingError(["The root mapping must only have a single directive object"])
    if not root_keys:
        raise MappingError(["The root directive must be an object"])
    first = root_keys[0]
    directive = root[first] if isinstance(root, dict) else root[0]
    if isinstance(root, str) or not isinstance(directive, dict | list):
        raise MappingError(["The root directive must be an object"])
    if isinstance(directive, dict):
        directive = {**directive, "mapping": customer}
    return {first: directive} if isinstance(root, dict) else [directive]


def compile_transform(mapping: Any, *, final: bool = False) -> Resolver:
    """The reference's `transform`: process the root, validate, resolve, drop undefined.

    Mapping problems raise MappingError when `final` (compile_mapping), else they
    are raised lazily, after the payload check, as the reference orders them.
    """
    problem: MappingError | None = None
    try:
        processed = mapping_to_process(mapping)
        problems = validate_mapping(processed)
        if problems:
            raise MappingError(problems)
    except MappingError as error:
        if final:
            raise
        problem = error
    if problem is not None:
        failure = problem

        def invalid(payload: Any) -> Any:
            _check_payload(payload)
            raise failure

        return invalid

    resolve, clean = _compile_root(processed)

    # Within @transform (not `final`) the copy is always made: an event's `__proto__`
    # key becomes the copy's prototype, which the inner mapping's reads can see.
    if clean and final:

        def run_clean(payload: Any) -> Any:
            _check_payload(payload)
            return resolve(payload)

        return run_clean

    def run(payload: Any) -> Any:
        _check_payload(payload)
        return remove_undefined(resolve(payload), nulls_in_arrays=final)

    return run


def _check_payload(payload: Any) -> None:
    if not isinstance(payload, dict):
        raise MappingEvaluationError(f"data must be an object, got {real_type_of(payload)}")
