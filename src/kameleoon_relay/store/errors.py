"""Why a store cannot be opened or served, in one line for people (never with a password)."""

from __future__ import annotations

from kameleoon_relay.errors import RelayError


class StoreUnavailable(RelayError):
    """The database is held by another relay, cannot be reached, or has a newer schema:
    not bad input, a state of the world that may change."""


class DatabaseURLError(RelayError, ValueError):
    """A `database:` URL this relay cannot use: an unknown scheme or option, no path."""


class StoreFull(RelayError):
    """The disk holding the store has no room for a write: nothing of it was kept. A state
    of the world (space may come back); reads go on."""
