from __future__ import annotations

from dataclasses import dataclass

from kameleoon_relay.errors import RelayError


@dataclass(frozen=True)
class ActionFailure:
    """Why an action produced no request; kept with the delivery, never sent."""

    type: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message}


class PayloadValidationError(RelayError, ValueError):
    """A mapped payload that breaks the action's field schema.

    `problems` lists every violation, worded as actions-core words them, so a
    message reads the same here as in Segment's event tester.
    """

    error_type = "PayloadValidationError"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(" ".join(problems))


class ActionSkipped(RelayError):
    """The action has nothing to send for this event (an event with no goal id): the
    delivery is `filtered` with `reason`, not failed."""

    def __init__(self, filter_name: str, reason: str) -> None:
        self.filter_name = filter_name
        self.reason = reason
        super().__init__(reason)
