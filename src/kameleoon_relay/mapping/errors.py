"""Errors raised by the mapping-kit."""

from __future__ import annotations

from kameleoon_relay.errors import RelayError


class MappingError(RelayError, ValueError):
    """A mapping the reference would reject; `problems` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid mapping: " + "; ".join(problems))
        self.problems = problems


class MappingEvaluationError(RelayError, ValueError):
    """Evaluating a mapping against an event failed where the reference throws."""
