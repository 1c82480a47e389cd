"""Segment FQL subscription triggers, answering as ``@segment/destination-subscriptions``.

``compile_trigger('type = "track" and event = "Order Completed"')`` returns a
predicate over an event dict. Triggers the reference cannot parse raise
FQLSyntaxError; the few it parses but cannot evaluate raise FQLEvaluationError
from the predicate.
"""

from __future__ import annotations

from kameleoon_relay.fql.compiler import Predicate, compile_ast
from kameleoon_relay.fql.errors import FQLEvaluationError, FQLSyntaxError
from kameleoon_relay.fql.parser import parse


def compile_trigger(text: str) -> Predicate:
    """Compile ``text`` once into a fast ``event -> bool`` predicate."""
    if not isinstance(text, str):  # Segment refuses a non-string subscription too
        raise TypeError(f"a trigger must be a string, not {type(text).__name__}")
    return compile_ast(parse(text))


__all__ = ["FQLEvaluationError", "FQLSyntaxError", "Predicate", "compile_trigger"]
