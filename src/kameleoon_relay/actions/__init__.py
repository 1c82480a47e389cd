"""The actions framework: destinations as data plus one small `perform` per action.

Mirrors how Segment's action-destinations are shaped: fields with labels, types,
defaults; presets derived from the fields' defaults; payload validation that
behaves as actions-core's does.
"""

from kameleoon_relay.actions.definitions import (
    Action,
    BatchLimits,
    Destination,
    Field,
    Preset,
    SettingsField,
    default_mapping,
)
from kameleoon_relay.actions.errors import ActionFailure, ActionSkipped, PayloadValidationError
from kameleoon_relay.actions.payload import compile_payload_validator
from kameleoon_relay.actions.request import HttpRequest

__all__ = [
    "Action",
    "ActionFailure",
    "ActionSkipped",
    "BatchLimits",
    "Destination",
    "Field",
    "HttpRequest",
    "PayloadValidationError",
    "Preset",
    "SettingsField",
    "compile_payload_validator",
    "default_mapping",
]
