"""Ingest, the first stage: Segment's HTTP Tracking API, up to the durable store.

`routes` answers `/v1/track|page|screen|identify|group|alias|batch` (write keys in
`auth`, browsers in `cors`, Segment's paths and answers in `segment`); `normalize`
validates and fills each event as Segment's ingest does (`limits`, `timestamps`);
`metrics` counts what came in. The package exports the pure part only, so that the
engine and the CLI can normalize an event without the HTTP side.
"""

from kameleoon_relay.ingest.errors import SpecError
from kameleoon_relay.ingest.normalize import EVENT_TYPES, normalize_event, validate_event
from kameleoon_relay.js.objects import as_js_value

__all__ = ["EVENT_TYPES", "SpecError", "as_js_value", "normalize_event", "validate_event"]
