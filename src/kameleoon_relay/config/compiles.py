"""Config checks that compile what the relay will compile: triggers, mappings, filters."""

from __future__ import annotations

from kameleoon_relay.actions.required import required_field_problem, unmapped_required
from kameleoon_relay.config.model import Config
from kameleoon_relay.destinations import DESTINATION_TYPES
from kameleoon_relay.filters import FilterConfigError, compile_filters
from kameleoon_relay.fql import FQLSyntaxError, compile_trigger
from kameleoon_relay.mapping import MappingError, compile_mapping


def compile_problems(config: Config) -> list[str]:
    """Every trigger and mapping that does not compile, and every required field a
    mapping cannot produce, named by its key path."""
    problems: list[str] = []
    for d_index, destination in enumerate(config.destinations):
        try:
            compile_filters(destination.filters, f"destinations[{d_index}].filters")
        except FilterConfigError as error:
            problems.extend(error.problems)
        for s_index, subscription in enumerate(destination.subscriptions):
            path = f"destinations[{d_index}].subscriptions[{s_index}]"
            try:
                compile_trigger(subscription.trigger)
            except FQLSyntaxError as error:
                problems.append(f"{path}.trigger: {error}")
            if subscription.mapping is not None:
                try:
                    compile_mapping(subscription.mapping)
                except MappingError as error:
                    problems.extend(f"{path}.mapping: {problem}" for problem in error.problems)
                    continue
                action = DESTINATION_TYPES[destination.type].actions.get(subscription.action)
                if action is not None:
                    problems.extend(
                        f"{path}.mapping.{key}: {required_field_problem(action.fields, key)}"
                        for key in unmapped_required(action.fields, subscription.mapping)
                    )
    return problems
