"""Compile a mapping once into a callable that evaluates it against an event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kameleoon_relay.js.values import UNDEFINED
from kameleoon_relay.mapping import directives as _directives  # noqa: F401 - registers the directives
from kameleoon_relay.mapping.resolvers import compile_transform


def compile_js_mapping(mapping: Any) -> Callable[[dict[str, Any]], Any]:
    """`compile_mapping` for the pipeline: a mapping that resolves to JavaScript's
    undefined returns UNDEFINED, which payload validation tells apart from null."""
    return compile_transform(mapping, final=True)


def compile_mapping(mapping: Any) -> Callable[[dict[str, Any]], Any]:
    """Validate a mapping, then compile it once into `event -> mapped value`.

    Raises MappingError (with every problem) for a mapping the reference
    rejects. The callable raises MappingEvaluationError where the reference's
    `transform` throws. Keys that resolve to undefined are left out; undefined
    array items become None, and so does a mapping that resolves to undefined.
    """
    run = compile_transform(mapping, final=True)

    def transform(event: dict[str, Any]) -> Any:
        value = run(event)
        return None if value is UNDEFINED else value

    return transform
