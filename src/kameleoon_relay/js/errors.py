"""What JavaScript semantics refuse: each a RelayError the calling stage may translate."""

from __future__ import annotations

from kameleoon_relay.errors import RelayError


class NestingTooDeepError(RelayError, ValueError):
    """A value nested deeper than the limit that the walk was given."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"value nested deeper than {limit} levels")
        self.limit = limit


class MemberReadError(RelayError, TypeError):
    """A property read that JavaScript answers by throwing (e.g. a function's `caller`)."""
