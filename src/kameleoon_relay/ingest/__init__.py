"""Segment Spec events: validation and normalization as Segment's ingest does it."""

from kameleoon_relay.ingest.errors import SpecError
from kameleoon_relay.ingest.normalize import EVENT_TYPES, normalize_event, validate_event
from kameleoon_relay.js.objects import as_js_value

__all__ = ["EVENT_TYPES", "SpecError", "as_js_value", "normalize_event", "validate_event"]
