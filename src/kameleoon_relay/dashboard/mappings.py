"""The mappings page's logic: what a destination looks like, checking and saving edits.

A saved subscription goes to the overlay file the config names (config/overlay.py),
then the config is reloaded; a reload that fails puts the previous overlay back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from kameleoon_relay.actions.required import required_field_problem, unmapped_required
from kameleoon_relay.config import ConfigError, DestinationConfig
from kameleoon_relay.config.lint import subscription_warnings
from kameleoon_relay.config.overlay import read_overlay, read_overlay_bases, write_overlay
from kameleoon_relay.destinations import DESTINATION_TYPES
from kameleoon_relay.fql import FQLSyntaxError, compile_trigger
from kameleoon_relay.mapping import MappingError, compile_mapping
from kameleoon_relay.secrets import mask_settings
from kameleoon_relay.web.state import RelayState


class EditError(ConfigError):
    """An edit that cannot be saved; `problems` says why."""


def _plain(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def describe(destination: DestinationConfig, from_file: str | None = None) -> dict[str, Any]:
    """A destination as the page shows it: settings masked, fields with their labels, and
    the file its subscriptions come from (the config's, or the overlay's)."""
    definition = DESTINATION_TYPES[destination.type]
    settings = mask_settings(destination.settings)
    subscriptions = []
    for index, sub in enumerate(destination.subscriptions):
        action = definition.actions.get(sub.action)
        mapping = _plain(sub.mapping) if sub.mapping is not None else None
        fields = []
        for key, spec in (action.fields if action else {}).items():
            value = mapping.get(key) if mapping is not None else spec.default
            fields.append(
                {
                    "key": key,
                    "label": spec.label,
                    "description": spec.description,
                    "required": spec.required,
                    "mapping": value,
                }
            )
        subscriptions.append(
            {
                "index": index,
                "name": sub.name,
                "trigger": sub.trigger,
                "action": sub.action,
                "enabled": sub.enabled,
                "custom": mapping is not None,
                "mapping": mapping
                if mapping is not None
                else _plain({f["key"]: f["mapping"] for f in fields if f["mapping"] is not None}),
                "fields": fields,
            }
        )
    return {
        "name": destination.name,
        "type": destination.type,
        "endpoint": destination.endpoint,
        "enabled": destination.enabled,
        "editable": definition.configurable_subscriptions,
        "max_subscriptions": definition.max_subscriptions,
        "actions": list(definition.actions),
        "settings": [
            {"key": key, "label": spec.label, "description": spec.description,
             "value": settings.get(key)}
            for key, spec in definition.settings.items()
        ],
        "subscriptions": subscriptions,
        "subscriptions_from": from_file,
        # What else decides what reaches it: the editor shows these beside the mappings.
        "sources": list(destination.sources) if destination.sources is not None else None,
        "filters": [_plain(f) for f in destination.filters],
        "identity_linking": (
            destination.identity_linking
            if destination.identity_linking is not None
            else definition.identity_linking_default
        ),
        "default_mappings": {
            slug: _plain({k: f.default for k, f in action.fields.items() if f.default is not None})
            for slug, action in definition.actions.items()
        },
    }  # fmt: skip


def check(destination: DestinationConfig, edit: dict[str, Any]) -> list[str]:
    """Every problem of an edited subscription: name, trigger, action, mapping."""
    definition = DESTINATION_TYPES[destination.type]
    problems: list[str] = []
    if not definition.configurable_subscriptions:
        problems.append(f"a {destination.type} destination has fixed subscriptions")
    name = edit.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name: required")
    trigger = edit.get("trigger")
    if not isinstance(trigger, str) or not trigger.strip():
        problems.append("trigger: required")
    else:
        try:
            compile_trigger(trigger)
        except FQLSyntaxError as exc:
            problems.append(f"trigger: {exc}")
    if edit.get("action") not in definition.actions:
        problems.append(f"action: must be one of {', '.join(definition.actions)}")
    mapping = edit.get("mapping")
    if mapping is not None and not isinstance(mapping, dict):
        problems.append("mapping: must be a JSON object or null (the default mapping)")
    elif mapping is not None:
        try:
            compile_mapping(mapping)
        except MappingError as exc:
            problems.extend(f"mapping: {problem}" for problem in exc.problems)
        else:
            action = definition.actions.get(edit.get("action"))  # type: ignore[arg-type]
            if action is not None:
                problems.extend(
                    f"mapping.{key}: {required_field_problem(action.fields, key)}"
                    for key in unmapped_required(action.fields, mapping)
                )
    if not isinstance(edit.get("enabled", True), bool):
        problems.append("enabled: must be true or false")
    return problems


def warnings(edit: dict[str, Any]) -> list[str]:
    """What looks surely wrong in an edit that compiles (Segment accepts it too)."""
    return subscription_warnings(edit.get("trigger"), edit.get("mapping"))


@dataclass(frozen=True)
class Saved:
    destination: str
    subscriptions: int


def save(relay: RelayState, name: str, index: int | None, edit: dict[str, Any]) -> Saved:
    """Replace subscription `index` (None: add one), write the overlay, reload."""
    config = relay.config
    if config.overlay is None:
        raise EditError(["the config names no overlay file: add `overlay: relay.overlay.yaml`"])
    try:
        destination = config.destination(name)
    except KeyError:
        raise EditError([f"no destination {name!r}"]) from None
    problems = check(destination, edit)
    if problems:
        raise EditError(problems)
    subscriptions = [
        {"name": s.name, "trigger": s.trigger, "action": s.action,
         "mapping": _plain(s.mapping) if s.mapping is not None else None, "enabled": s.enabled}
        for s in destination.subscriptions
    ]  # fmt: skip
    entry = {
        "name": edit["name"].strip(),
        "trigger": edit["trigger"],
        "action": edit["action"],
        "mapping": _plain(edit.get("mapping")),
        "enabled": edit.get("enabled", True),
    }
    if index is None:
        subscriptions.append(entry)
    elif 0 <= index < len(subscriptions):
        subscriptions[index] = entry
    else:
        raise EditError([f"no subscription {index} in {name!r}"])
    limit = DESTINATION_TYPES[destination.type].max_subscriptions
    if len(subscriptions) > limit:
        raise EditError([f"a destination holds at most {limit} subscriptions"])
    path = config.overlay
    previous = path.read_bytes() if path.exists() else None
    overlay = read_overlay(path)
    overlay[name] = subscriptions
    bases = read_overlay_bases(path)
    if name in config.config_fingerprints:  # what the config says now, to notice its changes
        bases[name] = config.config_fingerprints[name]
    write_overlay(path, overlay, bases)
    try:
        relay.reload()
    except ConfigError:
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(previous)
        raise
    return Saved(name, len(subscriptions))
