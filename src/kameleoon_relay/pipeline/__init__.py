"""The pure stage of the flow: event in, planned HTTP requests out. No I/O."""

from kameleoon_relay.pipeline.pipeline import Pipeline, PlannedDelivery

__all__ = ["Pipeline", "PlannedDelivery"]
