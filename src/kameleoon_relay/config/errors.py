from __future__ import annotations

from kameleoon_relay.errors import RelayError


class ConfigError(RelayError, ValueError):
    """An invalid configuration; `problems` holds every one, each starting with its key path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
