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


class ToPrimitiveError(RelayError, TypeError):
    """An object V8 cannot convert to a string or number: the `toString` it finds is no
    function (an own JSON key, or no prototype at all) and `valueOf` gives no primitive."""

    def __init__(self) -> None:
        super().__init__("Cannot convert object to primitive value")  # V8's words
