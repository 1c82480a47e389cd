"""Why a store cannot be served, in one line for people (never with a password)."""

from __future__ import annotations

from kameleoon_relay.errors import RelayError


class StoreUnavailable(RelayError, ValueError):
    """The database is held by another relay, or cannot be reached."""
