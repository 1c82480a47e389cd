"""Kameleoon (Actions): the destination as data, wire-identical to Segment's `actions-kameleoon`."""

from kameleoon_relay.destinations.kameleoon_actions.destination import (
    DEFAULT_ENDPOINT,
    KAMELEOON_ACTIONS,
)

DESTINATION = KAMELEOON_ACTIONS

__all__ = ["DEFAULT_ENDPOINT", "DESTINATION", "KAMELEOON_ACTIONS"]
