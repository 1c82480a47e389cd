"""Destination types, one folder each, found by the `type:` a config names.

Each folder holds a destination as data (settings, actions with their fields,
defaults and presets) plus one small `perform` per action, as Segment's
action-destinations does. Adding a type is a new folder and one line here.
"""

from kameleoon_relay.actions import Destination
from kameleoon_relay.destinations import kameleoon_actions, kameleoon_classic, kameleoon_data_api

DESTINATION_TYPES: dict[str, Destination] = {
    "kameleoon-actions": kameleoon_actions.DESTINATION,
    "kameleoon-classic": kameleoon_classic.DESTINATION,
    "kameleoon-data-api": kameleoon_data_api.DESTINATION,
}

__all__ = ["DESTINATION_TYPES"]
