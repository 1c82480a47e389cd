"""The overlay: subscriptions edited in the dashboard, kept in a file of their own.

The config names it (`overlay: relay.overlay.yaml`, relative to the config file). Its
shape is `{destinations: {NAME: {subscriptions: [...]}}}`; each listed destination's
subscriptions replace the base config's before validation, so an overlay is checked
exactly like the config itself. The overlay holds no settings: never a credential.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kameleoon_relay.config.errors import ConfigError

HEADER = "# Written by the kameleoon-relay dashboard: subscriptions replacing the config's.\n"


def overlay_path(raw: Any, config_path: Path | None) -> Path | None:
    """Where the overlay named by `overlay:` lives (relative to the config file)."""
    if not isinstance(raw, str) or not raw:
        return None
    path = Path(raw)
    if not path.is_absolute() and config_path is not None:
        path = config_path.parent / path
    return path


def read_overlay(path: Path) -> dict[str, list[Any]]:
    """Destination name -> its subscriptions; a missing file is an empty overlay."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError([f"{path}: cannot read ({error.strerror or error})"]) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        raise ConfigError([f"{path}: not valid YAML"]) from None
    destinations = data.get("destinations") if isinstance(data, dict) else None
    if not isinstance(destinations, dict):
        raise ConfigError([f"{path}: expected destinations: {{NAME: {{subscriptions: [...]}}}}"])
    found: dict[str, list[Any]] = {}
    for name, entry in destinations.items():
        subscriptions = entry.get("subscriptions") if isinstance(entry, dict) else None
        if not isinstance(subscriptions, list):
            raise ConfigError([f"{path}: destinations.{name}.subscriptions must be a list"])
        found[str(name)] = subscriptions
    return found


def write_overlay(path: Path, overlay: dict[str, list[Any]]) -> None:
    """Replace the overlay file atomically (write, then rename)."""
    document = {"destinations": {name: {"subscriptions": subs} for name, subs in overlay.items()}}
    text = HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def apply_overlay(data: Any, config_path: Path | None) -> Any:
    """The raw config document with the overlay's subscriptions merged in."""
    if not isinstance(data, dict) or not isinstance(data.get("destinations"), list):
        return data
    path = overlay_path(data.get("overlay"), config_path)
    if path is None:
        return data
    overlay = read_overlay(path)
    names = {d.get("name") for d in data["destinations"] if isinstance(d, dict)}
    unknown = sorted(set(overlay) - names)
    if unknown:
        raise ConfigError([f"{path}: unknown destination(s): {', '.join(unknown)}"])
    merged = [
        {**d, "subscriptions": overlay[d["name"]]}
        if isinstance(d, dict) and d.get("name") in overlay
        else d
        for d in data["destinations"]
    ]
    return {**data, "destinations": merged}
