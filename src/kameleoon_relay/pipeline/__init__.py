"""The pure stage of the flow: event in, planned HTTP requests out. No I/O."""

from kameleoon_relay.pipeline.pipeline import Pipeline, PlannedDelivery, send_event

__all__ = ["Pipeline", "PlannedDelivery", "send_event"]
