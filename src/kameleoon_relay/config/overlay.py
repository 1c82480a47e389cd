"""The overlay: subscriptions edited in the dashboard, kept in a file of their own.

The config names it (`overlay: relay.overlay.yaml`, relative to the config file). Its
shape is `{destinations: {NAME: {subscriptions: [...]}}}`; each listed destination's
subscriptions replace the base config's before validation, so an overlay is checked
exactly like the config itself. The overlay holds no settings: never a credential.

Each entry also keeps `config_subscriptions`, a fingerprint of the config file's own
subscriptions for that destination when the overlay was saved: when they have changed
since, the overlay still wins, but the relay says so (`overlay_report`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml

from kameleoon_relay.config.errors import ConfigError

HEADER = "# Written by the kameleoon-relay dashboard: subscriptions replacing the config's.\n"
BASE_KEY = "config_subscriptions"  # the fingerprint of the config's subscriptions saved over


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


def read_overlay_bases(path: Path) -> dict[str, str]:
    """Destination name -> the fingerprint of the config's subscriptions it was saved over."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    destinations = data.get("destinations") if isinstance(data, dict) else None
    if not isinstance(destinations, dict):
        return {}
    return {
        str(name): entry[BASE_KEY]
        for name, entry in destinations.items()
        if isinstance(entry, dict) and isinstance(entry.get(BASE_KEY), str)
    }


def subscriptions_fingerprint(raw: Any) -> str:
    """A short fingerprint of a destination's `subscriptions:` as the config writes them."""
    text = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(text).hexdigest()[:16]


def write_overlay(
    path: Path, overlay: dict[str, list[Any]], bases: Mapping[str, str] | None = None
) -> None:
    """Replace the overlay file atomically (write, then rename); `bases` are the
    fingerprints of the config's subscriptions each entry replaces."""
    bases = bases or {}
    document = {
        "destinations": {
            name: {"subscriptions": subs, **({BASE_KEY: bases[name]} if name in bases else {})}
            for name, subs in overlay.items()
        }
    }
    text = HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def config_fingerprints(data: Any) -> dict[str, str]:
    """Destination name -> fingerprint of its subscriptions in the config document."""
    destinations = data.get("destinations") if isinstance(data, dict) else None
    found: dict[str, str] = {}
    for item in destinations if isinstance(destinations, list) else []:
        if isinstance(item, dict) and "name" in item:
            found[str(item["name"])] = subscriptions_fingerprint(item.get("subscriptions"))
    return found


def overlay_report(data: Any, config_path: Path | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """Which file each destination's subscriptions come from, and the overlay entries that
    override config subscriptions changed since the overlay was saved."""
    destinations = data.get("destinations") if isinstance(data, dict) else None
    names = [
        str(d["name"])
        for d in (destinations if isinstance(destinations, list) else [])
        if isinstance(d, dict) and "name" in d
    ]
    config_file = str(config_path) if config_path is not None else "(embedded default)"
    origin = dict.fromkeys(names, config_file)
    path = overlay_path(data.get("overlay") if isinstance(data, dict) else None, config_path)
    if path is None or not path.exists():
        return origin, ()
    overridden = read_overlay(path)
    bases = read_overlay_bases(path)
    current = config_fingerprints(data)
    warnings = []
    for name in names:
        if name not in overridden:
            continue
        origin[name] = str(path)
        if name in bases and bases[name] != current.get(name):
            warnings.append(
                f"{path}: overrides the subscriptions of destination {name!r}, which changed "
                f"in {config_file} since the overlay was saved; the overlay's are in force "
                f"(remove {name!r} from the overlay to use the config's)"
            )
    return origin, tuple(warnings)


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
