"""Destination filters (Sample, Drop, Drop Properties, Allow Properties): compiled once
per config, applied per event before the subscriptions. Pure, no I/O."""

from kameleoon_relay.filters.compile import (
    CompiledFilters,
    Dropped,
    FilterConfigError,
    compile_filters,
    sample_bucket,
)

__all__ = ["CompiledFilters", "Dropped", "FilterConfigError", "compile_filters", "sample_bucket"]
