"""Warnings about a valid config: triggers and mappings Segment accepts that are surely
not meant (see fql/lint.py, mapping/lint.py). Shown by check-config, serve's start-up
log and the mapping editor; never a reason to refuse."""

from __future__ import annotations

from typing import Any

from kameleoon_relay.config.model import Config
from kameleoon_relay.fql.lint import trigger_warnings
from kameleoon_relay.mapping.lint import mapping_warnings


def subscription_warnings(trigger: Any, mapping: Any, where: str = "") -> list[str]:
    """One subscription's warnings, each starting with its key path under `where`."""
    prefix = f"{where}." if where else ""
    found = (
        [f"{prefix}trigger: {text}" for text in trigger_warnings(trigger)]
        if isinstance(trigger, str)
        else []
    )
    if mapping is not None:
        found.extend(mapping_warnings(mapping, f"{prefix}mapping"))
    return found


def config_warnings(config: Config) -> list[str]:
    warnings: list[str] = []
    for d_index, destination in enumerate(config.destinations):
        for s_index, subscription in enumerate(destination.subscriptions):
            warnings.extend(
                subscription_warnings(
                    subscription.trigger,
                    subscription.mapping,
                    f"destinations[{d_index}].subscriptions[{s_index}]",
                )
            )
    return warnings
