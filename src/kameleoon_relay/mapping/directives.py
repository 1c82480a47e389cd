"""One builder per directive: options in, resolver out.

Each builder mirrors the reference directive's checks and their order, and its
JavaScript truthiness tests (`if (!opts.x)`), so the same options fail the same
way; option values that are mappings themselves are compiled by `core`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.json_codec import json_parse, json_stringify
from kameleoon_relay.js.numbers import number_to_string
from kameleoon_relay.js.objects import PROTO_KEY, assign_copy, js_ordered, set_member
from kameleoon_relay.js.operators import loosely_equals_empty
from kameleoon_relay.js.strings import to_js_string, utf16_units
from kameleoon_relay.js.values import UNDEFINED, JSPrototype, real_type_of, truthy, type_of
from kameleoon_relay.mapping import resolvers as core
from kameleoon_relay.mapping.errors import MappingEvaluationError
from kameleoon_relay.mapping.liquid import compile_liquid
from kameleoon_relay.mapping.paths import (
    compile_keys,
    get,
    get_keys,
    reads_only_json,
    split_path,
    strip_root,
)
from kameleoon_relay.mapping.replace import check_lengths, replace_literal
from kameleoon_relay.mapping.templates import render

Resolver = Callable[[Any], Any]


def _option(opts: dict[str, Any], name: str) -> Any:
    return opts.get(name, UNDEFINED)


def _if(opts: Any) -> Resolver:
    if not isinstance(opts, dict):
        return core.failing('@if requires an object with an "exists" key')
    exists, blank = _option(opts, "exists"), _option(opts, "blank")
    if not truthy(exists) and not truthy(blank):
        return core.failing('@if requires an "exists" key or a "blank" key')
    if exists is not UNDEFINED:
        subject = core.compile_node(exists)
        test = _present
    else:
        subject = core.compile_node(blank)
        test = _not_blank
    then = _option(opts, "then")
    then_f = core.compile_node(then) if then is not UNDEFINED else None
    otherwise = _option(opts, "else")
    else_f = core.compile_node(otherwise) if truthy(otherwise) else None

    def resolve(payload: Any) -> Any:
        condition = test(subject(payload))
        if condition and then_f is not None:
            return then_f(payload)
        if not condition and else_f is not None:
            return else_f(payload)
        return UNDEFINED

    if then_f is not None and test is _present and _same_json(exists, then):
        # The presets' `{"exists": X, "then": X, "else": Y}`: X is looked up once.
        # Resolvers are pure, so the value tested is the value `then` would give.

        def resolve(payload: Any) -> Any:
            value = subject(payload)
            if value is not UNDEFINED and value is not None:
                return value
            return UNDEFINED if else_f is None else else_f(payload)

    if core.is_clean(then_f) and core.is_clean(else_f):
        core.mark_clean(resolve)
    return resolve


def _same_json(a: Any, b: Any) -> bool:
    """Same JSON text (Python's == would take 1 for true)."""
    try:
        return json_stringify(a) == json_stringify(b)
    except (NestingTooDeepError, TypeError, ValueError):
        return False


def _present(value: Any) -> bool:
    return value is not UNDEFINED and value is not None


def _not_blank(value: Any) -> bool:
    return _present(value) and not loosely_equals_empty(value)


def _case(opts: Any) -> Resolver:
    if not isinstance(opts, dict):
        return core.failing('@case requires an object with a "operator" key')
    operator = _option(opts, "operator")
    if not truthy(operator):
        return core.failing('@case requires a "operator" key')
    value = _option(opts, "value")
    if not truthy(value):
        return core.constant(UNDEFINED)
    subject = core.compile_node(value)

    def resolve(payload: Any) -> Any:
        result = subject(payload)
        if not isinstance(result, str):
            return result
        if operator == "lower":
            return result.lower()
        if operator == "upper":
            return result.upper()
        raise MappingEvaluationError('operator key should have a value of "lower" or "upper"')

    return resolve


def _replace(opts: Any) -> Resolver:
    if not isinstance(opts, dict):
        return core.failing('@replace requires an object with a "pattern" key')
    pattern = _option(opts, "pattern")
    if not truthy(pattern):
        return core.failing('@replace requires a "pattern" key')
    replacement = _defaulted(opts, "replacement", "")
    pattern2 = _option(opts, "pattern2")
    replacement2 = _defaulted(opts, "replacement2", "") if truthy(pattern2) else UNDEFINED
    ignore_case = _defaulted(opts, "ignorecase", False)
    every = _defaulted(opts, "global", True)
    value = _option(opts, "value")
    if not truthy(value):
        return core.constant(UNDEFINED)
    subject = core.compile_node(value)
    usable = (
        isinstance(pattern, str)
        and isinstance(replacement, str)
        and isinstance(ignore_case, bool)
        and isinstance(every, bool)
    )
    if not usable:
        return lambda payload: (subject(payload), "")[1]
    steps = [(pattern, replacement)]
    if truthy(pattern2) and isinstance(pattern2, str) and isinstance(replacement2, str):
        steps.append((pattern2, replacement2))
    errors = [check_lengths(p, r) for p, r in steps]

    def resolve(payload: Any) -> Any:
        text = subject(payload)
        if isinstance(text, bool):
            text = "true" if text else "false"
        elif isinstance(text, int | float):
            text = number_to_string(text)
        if not isinstance(text, str):
            return ""
        for (find, put), error in zip(steps, errors, strict=True):
            if error:
                raise MappingEvaluationError(error)
            text = replace_literal(text, find, put, every=every, ignore_case=ignore_case)
        return text

    return resolve


def _defaulted(opts: dict[str, Any], name: str, default: Any) -> Any:
    """The reference fills null or missing options with a default (`== null`)."""
    value = _option(opts, name)
    return default if value is UNDEFINED or value is None else value


def _array_path(data: Any) -> Resolver:
    if not isinstance(data, list):
        return core.failing(f"@arrayPath expected array, got {real_type_of(data)}")
    path = data[0] if data else UNDEFINED
    shape = data[1] if len(data) > 1 else UNDEFINED
    if isinstance(path, str):
        keys = split_path(strip_root(path))
        root: Resolver = lambda payload: get_keys(payload, keys)  # noqa: E731
    else:
        root = core.compile_node(path)
    if not (isinstance(shape, dict) and shape):
        return root
    item_f = core.compile_node(shape)

    def resolve(payload: Any) -> Any:
        found = root(payload)
        if isinstance(found, list):
            return [item_f(item) for item in found]
        if isinstance(found, dict) or real_type_of(found) == "object":  # Object.prototype too
            return [item_f(found)]
        return found

    return resolve


def _string_directive(name: str, value: Any, use: Callable[[str, Any], Any]) -> Resolver:
    """A directive whose option must resolve to a string at evaluation time."""
    subject = core.compile_node(value)

    def resolve(payload: Any) -> Any:
        text = subject(payload)
        if not isinstance(text, str):
            raise MappingEvaluationError(f"{name}: expected string, got {real_type_of(text)}")
        return use(text, payload)

    return resolve


def _path(value: Any) -> Resolver:
    if isinstance(value, str):
        keys = split_path(strip_root(value))
        read = compile_keys(keys)
        # What the event holds needs no cleaning; a built-in reached through it does.
        return core.mark_clean(read) if reads_only_json(keys) else read
    return _string_directive("@path", value, lambda path, payload: get(payload, strip_root(path)))


def _template(value: Any) -> Resolver:
    if isinstance(value, str):
        return lambda payload: render(value, payload)
    return _string_directive("@template", value, lambda text, payload: render(text, payload))


def _literal(value: Any) -> Resolver:
    return core.compile_node(value)


def _flatten(opts: Any) -> Resolver:
    if not isinstance(opts, dict):
        return core.failing('@flatten requires an object with a "separator" key')
    separator = _option(opts, "separator")
    if not truthy(separator):
        return core.failing('@flatten requires a "separator" key')
    separator_f = core.compile_node(separator)
    value_f = core.compile_node(_option(opts, "value"))
    omit_arrays = truthy(_option(opts, "omitArrays"))

    def resolve(payload: Any) -> Any:
        sep = separator_f(payload)
        if not isinstance(sep, str):
            raise MappingEvaluationError("@flatten requires a string separator")
        out: dict[str, Any] = {}
        flatten_into(out, value_f(payload), "", sep, omit_arrays)
        return js_ordered(out)

    return resolve


def flatten_into(out: dict[str, Any], value: Any, prefix: str, sep: str, omit: bool) -> None:
    if type(value) is JSPrototype and (
        value.kind == "Object" or (value.kind == "Array" and not omit)
    ):
        return  # no own entries to flatten
    if isinstance(value, dict):
        entries: Any = value.items()
    elif isinstance(value, list) and not omit:
        entries = ((str(i), v) for i, v in enumerate(value))
    else:
        out[prefix] = value
        return
    for key, item in entries:
        flatten_into(out, item, f"{prefix}{sep}{key}" if prefix else key, sep, omit)


def _json(opts: Any) -> Resolver:
    if not isinstance(opts, dict):
        return core.failing('@json requires an object with a "value" key')
    mode = _option(opts, "mode")
    if not truthy(mode):
        return core.failing('@json requires a "mode" key')
    value = _option(opts, "value")
    if not truthy(value):
        return core.failing('@json requires a "value" key')
    subject = core.compile_node(value)
    if mode == "encode":
        return lambda payload: json_stringify(subject(payload))
    if mode == "decode":
        return lambda payload: _decode(subject(payload))
    return lambda payload: (subject(payload), UNDEFINED)[1]


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json_parse(value)
    except NestingTooDeepError:
        raise  # JS would parse it; we cannot, so the delivery fails saying why
    except ValueError:
        return value


def _merge(opts: Any) -> Resolver:
    if not isinstance(opts, dict):
        return core.failing('@merge requires an object with an "objects" key and a "direction" key')
    direction = _option(opts, "direction")
    if not truthy(direction):
        return core.failing('@merge requires a "direction" key')
    direction_f = core.compile_node(direction)
    objects = _option(opts, "objects")
    # The reference resolves the direction before checking the objects.
    if not truthy(objects):
        return _after(direction_f, '@merge requires a "objects" key')
    if not isinstance(objects, list):
        return _after(direction_f, f"@merge: expected opts.array, got {type_of(objects)}")
    sources = [core.compile_node(o) for o in objects]

    def resolve(payload: Any) -> Any:
        left = direction_f(payload) == "left"
        resolved = [f(payload) for f in sources]
        if left:
            resolved.reverse()
        merged: dict[str, Any] = {}
        for source in resolved:
            merged = assign(merged, source)
        return js_ordered(merged)

    return resolve


def _after(first: Resolver, message: str) -> Resolver:
    def fail(payload: Any) -> Any:
        first(payload)
        raise MappingEvaluationError(message)

    return fail


def assign(target: dict[str, Any], source: Any) -> dict[str, Any]:
    """Object.assign(target, source) for one JSON-like source: the target, or what took
    its place when a `__proto__` key set its prototype (js.objects.set_member)."""
    if isinstance(source, dict):
        if PROTO_KEY not in source:
            target.update(source)
            return target
        for key, value in source.items():
            target = set_member(target, key, value)
    elif isinstance(source, list):
        target.update((str(i), v) for i, v in enumerate(source))
    elif isinstance(source, str):
        target.update((str(i), ch) for i, ch in enumerate(utf16_units(source)))
    return target


def _transform(opts: Any) -> Resolver:
    if not isinstance(opts, dict):
        return core.failing('@transform requires an object with an "apply" key and a "mapping" key')
    mapping = _option(opts, "mapping")
    if not truthy(mapping):
        return core.failing('@transform requires a "mapping" key')
    apply = _option(opts, "apply")
    if not truthy(apply):
        return core.failing('@transform requires a "apply" key')
    if not isinstance(apply, dict):
        return core.failing('@transform "apply" key should be an object')
    apply_f = core.compile_transform(apply)
    mapping_f = core.compile_node(mapping)
    return lambda payload: mapping_f(apply_f(payload))


def _exclude_when_null(value: Any) -> Resolver:
    subject = core.compile_node(value)

    def resolve(payload: Any) -> Any:
        result = subject(payload)
        return UNDEFINED if result is None else clean_nulls(result)

    return resolve


def clean_nulls(value: Any) -> Any:
    """Null object entries become undefined (so they are dropped), recursively."""
    if not isinstance(value, dict):
        return value
    if PROTO_KEY not in value:
        return {
            k: UNDEFINED if v is None else clean_nulls(v) if isinstance(v, dict) else v
            for k, v in value.items()
        }
    # `cleaned = Object.assign({}, value)`, then each own key of `value` assigned again:
    # the `__proto__` key sets the prototype twice (a null one, then no setter is left,
    # so the second assignment is an own key).
    cleaned = assign_copy(value)
    for key, item in value.items():
        if item is None:
            cleaned = set_member(cleaned, key, UNDEFINED)
        elif isinstance(item, dict):
            cleaned = set_member(cleaned, key, clean_nulls(item))
    return cleaned


def _liquid(value: Any) -> Resolver:
    return compile_liquid(value)


DIRECTIVES = core.DIRECTIVES
DIRECTIVES.update(
    {
        "@if": _if,
        "@case": _case,
        "@replace": _replace,
        "@arrayPath": _array_path,
        "@path": _path,
        "@template": _template,
        "@literal": _literal,
        "@flatten": _flatten,
        "@json": _json,
        "@merge": _merge,
        "@transform": _transform,
        "@excludeWhenNull": _exclude_when_null,
        "@liquid": _liquid,
    }
)

__all__ = ["DIRECTIVES", "assign", "clean_nulls", "flatten_into", "to_js_string"]
