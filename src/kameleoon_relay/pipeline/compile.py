"""Compile a destination's subscriptions once: trigger, mapping, validation, perform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kameleoon_relay.actions import Destination, HttpRequest, compile_payload_validator
from kameleoon_relay.actions.definitions import PerformContext, default_mapping
from kameleoon_relay.config.model import DestinationConfig, SubscriptionConfig
from kameleoon_relay.destinations import DESTINATION_TYPES
from kameleoon_relay.filters import CompiledFilters, compile_filters
from kameleoon_relay.fql import compile_trigger
from kameleoon_relay.mapping.compile import compile_js_mapping


@dataclass(frozen=True)
class CompiledSubscription:
    name: str
    action: str
    matches: Callable[[dict[str, Any]], bool]
    # Raises PayloadValidationError (or a mapping runtime error) instead of returning.
    build_request: Callable[[dict[str, Any]], HttpRequest]


@dataclass(frozen=True)
class CompiledDestination:
    config: DestinationConfig
    definition: Destination
    subscriptions: tuple[CompiledSubscription, ...]
    filters: CompiledFilters
    identity_linking: bool
    # What an event's `integrations` object may call it: catalog names, then `name`.
    integration_names: tuple[str, ...]


def request_builder(
    definition: Destination, subscription: SubscriptionConfig, destination: DestinationConfig
) -> Callable[[dict[str, Any]], HttpRequest]:
    action = definition.actions[subscription.action]
    mapping = subscription.mapping
    if mapping is None:
        mapping = default_mapping(action.fields)
    transform = compile_js_mapping(mapping)
    validate = compile_payload_validator(action.fields)
    perform = action.perform
    settings = dict(destination.settings)
    endpoint = destination.endpoint
    # Per-line nonces differ between the destination's subscriptions.
    options = {**destination.options, "nonce_scope": f"{destination.name}\x00{subscription.name}"}

    def build_request(event: dict[str, Any]) -> HttpRequest:
        return perform(PerformContext(validate(transform(event)), settings, endpoint, options))

    return build_request


def compile_destination(destination: DestinationConfig) -> CompiledDestination:
    definition = DESTINATION_TYPES[destination.type]
    compiled = tuple(
        CompiledSubscription(
            subscription.name,
            subscription.action,
            compile_trigger(subscription.trigger),
            request_builder(definition, subscription, destination),
        )
        for subscription in destination.subscriptions
        if subscription.enabled
    )
    linking = destination.identity_linking
    if linking is None:
        linking = definition.identity_linking_default
    filters = compile_filters(destination.filters)
    names = tuple(dict.fromkeys((*definition.catalog_names, destination.name)))
    return CompiledDestination(destination, definition, compiled, filters, linking, names)
