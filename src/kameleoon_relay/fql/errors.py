"""The errors a trigger can raise: one when it is compiled, one when it is evaluated."""

from __future__ import annotations

from kameleoon_relay.errors import RelayError


class FQLSyntaxError(RelayError, ValueError):
    """The reference parser rejects this trigger (``parseFql`` returns an error)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.reason = message
        self.position = position


class FQLEvaluationError(RelayError, TypeError):
    """The trigger parses but the reference's ``validate`` throws on it.

    A few accepted triggers (an empty group ``()`` next to a condition, a path
    made only of dots or brackets) make ``validate`` throw a TypeError when the
    evaluation reaches them; Segment then fails the call instead of skipping it.
    """
