"""Segment Spec events: validation and normalization as Segment's ingest does it."""

from kameleoon_relay.js import as_js_value
from kameleoon_relay.spec.errors import SpecError
from kameleoon_relay.spec.events import EVENT_TYPES, normalize_event, validate_event

__all__ = ["EVENT_TYPES", "SpecError", "as_js_value", "normalize_event", "validate_event"]
