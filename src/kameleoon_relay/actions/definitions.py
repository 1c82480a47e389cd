"""Declarative shapes of a destination: settings, actions, fields, presets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kameleoon_relay.actions.request import HttpRequest


@dataclass(frozen=True)
class Field:
    """One input of an action, as actions-core declares it."""

    label: str
    description: str
    type: str  # string | text | password | number | integer | boolean | object | datetime
    required: bool = False
    default: Any = None  # a mapping-kit value
    format: str | None = None
    choices: tuple[str, ...] | None = None
    allow_null: bool = False
    multiple: bool = False


@dataclass(frozen=True)
class SettingsField:
    label: str
    description: str
    type: str
    required: bool = False
    secret: bool = False


@dataclass(slots=True)  # built once per event: slotted, not frozen (cheaper); read-only
class PerformContext:
    """What `perform` gets: the validated payload and the destination settings."""

    payload: dict[str, Any]
    settings: Mapping[str, Any]
    endpoint: str
    # The destination type's own config keys (goals, ...), parsed by its `parse_options`,
    # plus `nonce_scope`: the destination and subscription names, for per-line nonces.
    options: Mapping[str, Any] = field(default_factory=lambda: _NO_OPTIONS)


_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class BatchLimits:
    """How many pending events of a batching destination one request may carry."""

    max_events: int = 500
    max_bytes: int = 2_000_000
    max_wait: float = 1.0  # seconds a partial batch waits for more events


Perform = Callable[[PerformContext], HttpRequest]


@dataclass(frozen=True)
class Action:
    slug: str
    title: str
    description: str
    default_subscription: str
    fields: dict[str, Field]
    perform: Perform


@dataclass(frozen=True)
class Preset:
    name: str
    subscribe: str
    action: str
    mapping: dict[str, Any]


def default_mapping(fields: Mapping[str, Field]) -> dict[str, Any]:
    """The mapping a preset uses: every field that has a default, in field order."""
    return {key: spec.default for key, spec in fields.items() if spec.default is not None}


@dataclass(frozen=True)
class Destination:
    name: str
    slug: str
    description: str
    settings: dict[str, SettingsField]
    actions: dict[str, Action]
    presets: tuple[tuple[str, str, str], ...]  # (name, trigger, action slug)
    default_endpoint: str
    max_subscriptions: int = 50
    # (settings, endpoint, options) -> the request whose 2xx says the credentials work.
    test_authentication: Callable[..., HttpRequest | None] | None = None
    # What the destination would refuse in the settings, by key (checked before serving).
    check_settings: Callable[[Mapping[str, Any]], dict[str, str]] | None = None
    # Link ids to visitor codes ("Kameleoon identifier") unless the config says otherwise.
    identity_linking_default: bool = False
    # Call types the destination accepts at all; others are skipped as filtered.
    handles_only: tuple[str, ...] | None = None
    # Whether a config may list its own subscriptions (the classic one has none).
    configurable_subscriptions: bool = True
    # Where a linked visitor code is put into an event that carries none.
    linked_code_key: str = "kameleoonVisitorCode"
    # The names an event's `integrations` object may call it by, as Segment's catalog
    # and docs spell them (case-sensitive); a destination's configured name counts too.
    catalog_names: tuple[str, ...] = ()
    # What a refused test authentication means, said after the status.
    auth_failure_hint: str = ""
    # Config keys of this type beside the common ones, and their parser:
    # raw destination mapping -> (options for PerformContext, problems by key path).
    option_keys: tuple[str, ...] = ()
    parse_options: Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, str]]] | None = (
        None
    )

    def preset_subscriptions(self) -> list[Preset]:
        """Presets derive their mappings from the actions' field defaults."""
        return [
            Preset(name, trigger, slug, default_mapping(self.actions[slug].fields))
            for name, trigger, slug in self.presets
        ]

    def secret_settings(self) -> tuple[str, ...]:
        return tuple(key for key, spec in self.settings.items() if spec.secret)
