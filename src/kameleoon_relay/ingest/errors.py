from __future__ import annotations

from kameleoon_relay.errors import RelayError


class SpecError(RelayError, ValueError):
    """An event that breaks the Segment Spec; `problems` names every bad field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))
