"""Compile a mapping once into a callable that evaluates it against an event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kameleoon_relay.js.errors import NestingTooDeepError, ToPrimitiveError
from kameleoon_relay.js.objects import without_proto_keys
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.values import UNDEFINED
from kameleoon_relay.mapping import directives as _directives  # noqa: F401 - registers the directives
from kameleoon_relay.mapping.errors import MappingError, MappingEvaluationError
from kameleoon_relay.mapping.resolvers import Resolver, compile_transform


def compile_js_mapping(mapping: Any) -> Callable[[dict[str, Any]], Any]:
    """`compile_mapping` for the pipeline: a mapping that resolves to JavaScript's
    undefined returns UNDEFINED, which payload validation tells apart from null."""
    run = _compiled(mapping)

    def transform(event: dict[str, Any]) -> Any:
        try:
            return run(event)
        except (RecursionError, NestingTooDeepError):
            return _deep(run, event)
        except ToPrimitiveError as error:
            raise MappingEvaluationError(str(error)) from error

    return transform


def compile_mapping(mapping: Any) -> Callable[[dict[str, Any]], Any]:
    """Validate a mapping, then compile it once into `event -> mapped value`.

    Raises MappingError (with every problem) for a mapping the reference
    rejects. The callable raises MappingEvaluationError where the reference's
    `transform` throws. Keys that resolve to undefined are left out; undefined
    array items become None, and so does a mapping that resolves to undefined.
    Mappings and values are walked to MAX_NESTING levels deep, past which a
    MappingError or MappingEvaluationError names that depth. Where V8 cannot print an
    object (js.strings.object_to_string), a MappingEvaluationError in its words. As the reference's
    output is a copy that assigns its keys, no `__proto__` key is left in it (the
    pipeline's requests drop theirs as they are encoded, off the fast path).
    """
    run = _compiled(mapping)

    def transform(event: dict[str, Any]) -> Any:
        try:
            value = run(event)
        except (RecursionError, NestingTooDeepError):
            value = _deep(run, event)
        except ToPrimitiveError as error:
            raise MappingEvaluationError(str(error)) from error
        return None if value is UNDEFINED else without_proto_keys(value)

    return transform


def _compiled(mapping: Any) -> Resolver:
    try:
        return deep_call(compile_transform, mapping, final=True)
    except NestingTooDeepError as error:
        raise MappingError([f"mapping: {error}"]) from None


def _deep(run: Resolver, event: dict[str, Any]) -> Any:
    """An evaluation too deep for Python's stack, run again on a deep one (js.stack):
    past MAX_NESTING, a MappingEvaluationError naming the depth."""
    try:
        return deep_call(run, event)
    except NestingTooDeepError as error:
        raise MappingEvaluationError(f"mapping: {error}") from None
    except ToPrimitiveError as error:
        raise MappingEvaluationError(str(error)) from error
