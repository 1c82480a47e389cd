"""Kameleoon (Actions): the destination as data, wire-identical to Segment's."""

from kameleoon_relay.kameleoon.classic import KAMELEOON_CLASSIC
from kameleoon_relay.kameleoon.destination import DEFAULT_ENDPOINT, KAMELEOON_ACTIONS

__all__ = ["DEFAULT_ENDPOINT", "KAMELEOON_ACTIONS", "KAMELEOON_CLASSIC"]

# Destination types a config can name, by `type:`.
DESTINATION_TYPES = {"kameleoon-actions": KAMELEOON_ACTIONS, "kameleoon-classic": KAMELEOON_CLASSIC}
__all__ += ["DESTINATION_TYPES"]
