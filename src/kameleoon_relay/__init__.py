"""kameleoon-relay: a self-hostable, Segment-compatible event relay for Kameleoon.

The embedding API, for code that wants the destination in-process::

    from kameleoon_relay import load_config, Pipeline

    pipeline = Pipeline(load_config("relay.yaml"))
    pipeline.preview({"type": "track", "event": "Signed Up", "userId": "u1"})
    # -> {"messageId": ..., "deliveries": [{"destination": ..., "request": {...}}]}

    results = send_event(pipeline, event)   # plans and POSTs each request (blocking)
"""

from __future__ import annotations

__version__ = "0.1.0"
USER_AGENT = f"kameleoon-relay/{__version__}"  # on every request we send

# Public names resolve lazily so that `import kameleoon_relay.fql` stays light.
_EXPORTS = {
    "Config": "kameleoon_relay.config",
    "ConfigError": "kameleoon_relay.config",
    "load_config": "kameleoon_relay.config",
    "Pipeline": "kameleoon_relay.pipeline",
    "PlannedDelivery": "kameleoon_relay.pipeline",
    "send_event": "kameleoon_relay.delivery.direct",
    "SpecError": "kameleoon_relay.ingest",
    "normalize_event": "kameleoon_relay.ingest",
}
__all__ = [*_EXPORTS, "USER_AGENT", "__version__"]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kameleoon_relay' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
