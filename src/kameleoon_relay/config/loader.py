"""Read, interpolate and validate a configuration file."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import yaml

from kameleoon_relay.config.compiles import compile_problems
from kameleoon_relay.config.errors import ConfigError
from kameleoon_relay.config.model import (
    ADAPTIVE,
    AUTO,
    DEFAULT_DATABASE,
    DEFAULT_DEDUPE_WINDOW,
    DEFAULT_RETENTION,
    MIN_ADMIN_TOKEN,
    ORDERINGS,
    Config,
    DeliverySettings,
    DestinationConfig,
    SourceConfig,
    SubscriptionConfig,
)
from kameleoon_relay.config.overlay import (
    apply_overlay,
    config_fingerprints,
    overlay_path,
    overlay_report,
)
from kameleoon_relay.destinations import DESTINATION_TYPES
from kameleoon_relay.durations import parse_duration, parse_rate
from kameleoon_relay.js.objects import as_js_value

_HOST_NAME = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

_TOP_KEYS = {
    "sources",
    "destinations",
    "database",
    "admin_token",
    "allowed_hosts",
    "dedupe_window",
    "delivery",
    "retention",
    "overlay",
}
_DESTINATION_KEYS = {
    "name",
    "type",
    "sources",
    "endpoint",
    "settings",
    "subscriptions",
    "filters",
    "identity_linking",
    "enabled",
}
_SUBSCRIPTION_KEYS = {"name", "trigger", "action", "mapping", "enabled"}
_DELIVERY_KEYS = {
    "retry_window",
    "concurrency",
    "initial_concurrency",
    "max_concurrency",
    "rate_limit",
    "timeout",
    "backoff_base",
    "backoff_max",
    "lease",
    "max_backlog",
    "processes",
    "ordering",
    "hot_user_backlog",
}


# What reading the queue needs from a config (`deliveries`, `status`, `replay`): the
# database and the windows. Unset variables elsewhere (write keys, API keys) are fine there.
QUEUE_KEYS = ("database", "dedupe_window", "retention")


class _Problems:
    def __init__(self, needed: tuple[str, ...] | None = None) -> None:
        self.items: list[str] = []
        # Values left empty by an unset environment variable: reported once, at their path.
        self.unset: set[str] = set()
        # Top-level keys whose variables must be set (None: every key's).
        self.needed = needed

    def add(self, path: str, message: str) -> None:
        for unset in self.unset:
            if path == unset or path.startswith((f"{unset}.", f"{unset}[")):
                return  # "required", "must not be empty", ...: the unset variable says it all
        self.items.append(f"{path}: {message}")

    def unset_variable(self, path: str, name: str) -> None:
        top = path.split(".", 1)[0].split("[", 1)[0]
        if self.needed is None or top in self.needed:
            self.items.append(f"{path}: environment variable {name} is not set")
        self.unset.add(path)


_PLACEHOLDER = "__kameleoon_relay_env_{}__"


def _shield_env_refs(text: str) -> str:
    """Swap `${...}` for plain tokens before YAML parsing.

    `{apiKey: ${KEY}}` is not valid flow YAML, and a secret full of YAML syntax
    must not change the document's shape, so values go in after parsing.
    """
    return _ENV_REF.sub(lambda match: _PLACEHOLDER.format(match.group(0).encode().hex()), text)


_SHIELDED = re.compile(r"__kameleoon_relay_env_([0-9a-f]+)__")


def _unshield(value: str) -> str:
    return _SHIELDED.sub(lambda match: bytes.fromhex(match.group(1)).decode(), value)


def _interpolate(value: Any, path: str, env: Mapping[str, str], problems: _Problems) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string, after YAML parsing."""
    if isinstance(value, str) and "__kameleoon_relay_env_" in value:
        value = _unshield(value)
    if isinstance(value, dict):
        return {
            k: _interpolate(v, f"{path}.{k}" if path else str(k), env, problems)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, f"{path}[{i}]", env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if fallback is not None:
            return fallback
        problems.unset_variable(path, name)
        return ""

    return _ENV_REF.sub(substitute, value)


_BARE_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _bare_variable_problems(data: dict[str, Any], problems: _Problems) -> None:
    """A secret written `$NAME` is taken literally, a guessable value: say how to write it.

    Checked before interpolation, on the document as written.
    """
    candidates: list[tuple[str, Any]] = [("admin_token", data.get("admin_token"))]
    sources = data.get("sources")
    for index, source in enumerate(sources if isinstance(sources, list) else []):
        if isinstance(source, dict):
            candidates.append((f"sources[{index}].write_key", source.get("write_key")))
    destinations = data.get("destinations")
    for index, item in enumerate(destinations if isinstance(destinations, list) else []):
        definition = DESTINATION_TYPES.get(item.get("type")) if isinstance(item, dict) else None
        settings = item.get("settings") if isinstance(item, dict) else None
        if definition is None or not isinstance(settings, dict):
            continue
        for key in definition.secret_settings():
            candidates.append((f"destinations[{index}].settings.{key}", settings.get(key)))
    database = data.get("database")
    if isinstance(database, str) and "://" in database:
        with contextlib.suppress(ValueError):
            candidates.append(("database", urlsplit(database).password))
    for path, value in candidates:
        match = _BARE_VARIABLE.fullmatch(value) if isinstance(value, str) else None
        if match:
            problems.add(
                path,
                f"${match.group(1)} would be taken literally (a guessable value); "
                f"write ${{{match.group(1)}}} to read the environment variable",
            )


def _unknown_keys(data: dict[str, Any], allowed: set[str], path: str, problems: _Problems) -> None:
    for key in data:
        if key not in allowed:
            problems.add(
                f"{path}.{key}" if path else str(key),
                f"unknown key (expected one of: {', '.join(sorted(allowed))})",
            )


def _string(
    data: dict[str, Any], key: str, path: str, problems: _Problems, required: bool = True
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            problems.add(f"{path}.{key}", "required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.add(f"{path}.{key}", f"must be a string, got {type(value).__name__}")
        return None
    return str(value)


def _sources(raw: Any, problems: _Problems) -> tuple[SourceConfig, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add("sources", "must be a non-empty list of {name, write_key}")
        return ()
    sources: list[SourceConfig] = []
    for index, item in enumerate(raw):
        path = f"sources[{index}]"
        if not isinstance(item, dict):
            problems.add(path, "must be a mapping with name and write_key")
            continue
        _unknown_keys(item, {"name", "write_key"}, path, problems)
        name = _string(item, "name", path, problems)
        key = _string(item, "write_key", path, problems)
        if key is not None and not key:
            problems.add(f"{path}.write_key", "must not be empty")
        if name and key:
            sources.append(SourceConfig(name, key))
    names = [source.name for source in sources]
    for name in {n for n in names if names.count(n) > 1}:
        problems.add("sources", f"duplicate source name {name!r}")
    keys = [source.write_key for source in sources]
    if len(set(keys)) != len(keys):
        problems.add("sources", "two sources share a write_key")
    return tuple(sources)


def _subscriptions(
    raw: Any, path: str, kind: str, problems: _Problems
) -> tuple[SubscriptionConfig, ...]:
    definition = DESTINATION_TYPES[kind]
    if raw is not None and not definition.configurable_subscriptions:
        problems.add(
            path,
            f"a {kind} destination has fixed subscriptions (Page, Screen and "
            "Track); remove this key, or use kameleoon-actions for your own mappings",
        )
        raw = None
    if raw is None:
        return tuple(
            SubscriptionConfig(preset.name, preset.subscribe, preset.action, None, True)
            for preset in definition.preset_subscriptions()
        )
    if not isinstance(raw, list):
        problems.add(path, "must be a list of subscriptions")
        return ()
    if len(raw) > definition.max_subscriptions:
        problems.add(
            path,
            f"{len(raw)} subscriptions, but a {definition.name} destination "
            f"allows at most {definition.max_subscriptions}",
        )
    subscriptions: list[SubscriptionConfig] = []
    for index, item in enumerate(raw):
        item_path = f"{path}[{index}]"
        if not isinstance(item, dict):
            problems.add(item_path, "must be a mapping with name, trigger, action, mapping")
            continue
        _unknown_keys(item, _SUBSCRIPTION_KEYS, item_path, problems)
        name = _string(item, "name", item_path, problems)
        trigger = _string(item, "trigger", item_path, problems)
        action = _string(item, "action", item_path, problems)
        if action and action not in definition.actions:
            problems.add(
                f"{item_path}.action",
                f"unknown action {action!r} (expected one of: {', '.join(definition.actions)})",
            )
        mapping = item.get("mapping")
        if mapping is not None and not isinstance(mapping, dict):
            problems.add(f"{item_path}.mapping", "must be a mapping object or null")
            mapping = None
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.add(f"{item_path}.enabled", "must be true or false")
        if name and trigger and action:
            # Mappings are JSON in Segment: give them JS key order like events.
            js_mapping = as_js_value(mapping) if mapping is not None else None
            subscriptions.append(
                SubscriptionConfig(name, trigger, action, js_mapping, enabled is not False)
            )
    return tuple(subscriptions)


def _destinations(
    raw: Any, source_names: set[str], problems: _Problems
) -> tuple[DestinationConfig, ...]:
    if not isinstance(raw, list):
        problems.add("destinations", "must be a list")
        return ()
    destinations: list[DestinationConfig] = []
    for index, item in enumerate(raw):
        path = f"destinations[{index}]"
        if not isinstance(item, dict):
            problems.add(path, "must be a mapping")
            continue
        name = _string(item, "name", path, problems)
        kind = _string(item, "type", path, problems)
        own_keys = DESTINATION_TYPES[kind].option_keys if kind in DESTINATION_TYPES else ()
        _unknown_keys(item, _DESTINATION_KEYS | set(own_keys), path, problems)
        if kind and kind not in DESTINATION_TYPES:
            problems.add(
                f"{path}.type",
                f"unknown destination type {kind!r} "
                f"(expected one of: {', '.join(DESTINATION_TYPES)})",
            )
            continue
        if not kind:
            continue
        definition = DESTINATION_TYPES[kind]
        settings = item.get("settings")
        if not isinstance(settings, dict):
            problems.add(f"{path}.settings", "required mapping of the destination's settings")
            settings = {}
        for key, spec in definition.settings.items():
            if spec.required and settings.get(key) in (None, ""):
                problems.add(f"{path}.settings.{key}", f"required ({spec.label})")
        for key in settings:
            if key not in definition.settings:
                problems.add(
                    f"{path}.settings.{key}",
                    f"unknown setting (expected one of: {', '.join(definition.settings)})",
                )
        endpoint = item.get("endpoint", definition.default_endpoint)
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            problems.add(f"{path}.endpoint", "must be an http:// or https:// URL")
            endpoint = definition.default_endpoint
        sources = item.get("sources")
        if sources is not None:
            if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
                problems.add(f"{path}.sources", "must be a list of source names")
                sources = None
            else:
                for source in sources:
                    if source not in source_names:
                        problems.add(f"{path}.sources", f"unknown source {source!r}")
        filters = item.get("filters") or []
        if not isinstance(filters, list):
            problems.add(f"{path}.filters", "must be a list of filters")
            filters = []
        linking = item.get("identity_linking")
        if linking is not None and not isinstance(linking, bool):
            problems.add(f"{path}.identity_linking", "must be true or false")
            linking = None
        enabled = item.get("enabled", True)
        options: dict[str, Any] = {}
        if definition.parse_options is not None:
            options, option_problems = definition.parse_options(item)
            for key, message in option_problems.items():
                problems.add(f"{path}.{key}", message)
        subscriptions = _subscriptions(
            item.get("subscriptions"), f"{path}.subscriptions", kind, problems
        )
        if name:
            destinations.append(
                DestinationConfig(
                    name=name,
                    type=kind,
                    settings=dict(settings),
                    endpoint=endpoint.rstrip("/"),
                    subscriptions=subscriptions,
                    sources=tuple(sources) if sources is not None else None,
                    filters=tuple(filters),
                    identity_linking=linking,
                    enabled=enabled is not False,
                    options=options,
                )
            )
    names = [d.name for d in destinations]
    for name in {n for n in names if names.count(n) > 1}:
        problems.add("destinations", f"duplicate destination name {name!r}")
    return tuple(destinations)


def _delivery(raw: Any, problems: _Problems) -> DeliverySettings:
    if raw is None:
        return DeliverySettings()
    if not isinstance(raw, dict):
        problems.add("delivery", "must be a mapping")
        return DeliverySettings()
    _unknown_keys(raw, _DELIVERY_KEYS, "delivery", problems)
    values: dict[str, Any] = {}
    for key in ("retry_window", "timeout", "backoff_base", "backoff_max", "lease"):
        if key in raw:
            try:
                values[key] = parse_duration(raw[key])
            except ValueError as error:
                problems.add(f"delivery.{key}", str(error))
    for key in ("initial_concurrency", "max_concurrency", "max_backlog", "hot_user_backlog"):
        if key in raw:
            if _positive_int(raw[key]):
                values[key] = raw[key]
            else:
                problems.add(f"delivery.{key}", "must be a positive integer")
    if "concurrency" in raw:
        value = raw["concurrency"]
        if value == ADAPTIVE or _positive_int(value):
            values["concurrency"] = value
        else:
            problems.add("delivery.concurrency", f'must be "{ADAPTIVE}" or a positive integer')
    initial = values.get("initial_concurrency", DeliverySettings.initial_concurrency)
    maximum = values.get("max_concurrency", DeliverySettings.max_concurrency)
    if initial > maximum:
        problems.add(
            "delivery.max_concurrency",
            f"must be at least delivery.initial_concurrency ({initial}), got {maximum}",
        )
    if raw.get("rate_limit") is not None:
        try:
            values["rate_limit"] = parse_rate(raw["rate_limit"])
        except ValueError as error:
            problems.add("delivery.rate_limit", str(error))
    if "processes" in raw:
        value = raw["processes"]
        if value != AUTO and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            problems.add("delivery.processes", f'must be "{AUTO}" or an integer from 0')
        else:
            values["processes"] = value
    if "ordering" in raw:
        value = raw["ordering"]
        if value not in ORDERINGS:
            problems.add("delivery.ordering", f"must be {' or '.join(ORDERINGS)}, not {value!r}")
        else:
            values["ordering"] = value
    return DeliverySettings(**values)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _duration(data: dict[str, Any], key: str, default: float, problems: _Problems) -> float:
    if key not in data:
        return default
    try:
        return parse_duration(data[key])
    except ValueError as error:
        problems.add(key, str(error))
        return default


def _source_names(data: dict[str, Any]) -> set[str]:
    """Every source the document names, even one whose write key has a problem of its own."""
    raw = data.get("sources")
    items = raw if isinstance(raw, list) else []
    return {item["name"] for item in items if isinstance(item, dict) and "name" in item}


def parse_config(
    data: Any,
    env: Mapping[str, str] | None = None,
    path: Path | None = None,
    needed: tuple[str, ...] | None = None,
) -> Config:
    """Validate an already-parsed config document; raise ConfigError listing every problem.

    `needed`: the top-level keys whose `${VAR}`s must be set (default: all); see QUEUE_KEYS.
    Relative paths in the document are relative to the folder of `path`, the config file.
    """
    problems = _Problems(needed)
    if not isinstance(data, dict):
        raise ConfigError(["(top level): must be a mapping with sources and destinations"])
    _bare_variable_problems(data, problems)
    data = _interpolate(data, "", os.environ if env is None else env, problems)
    _unknown_keys(data, _TOP_KEYS, "", problems)
    sources = _sources(data.get("sources"), problems)
    destinations = _destinations(data.get("destinations", []), _source_names(data), problems)
    database = data.get("database", DEFAULT_DATABASE)
    if not isinstance(database, str) or "://" not in database:
        problems.add("database", "must be a URL such as sqlite:///path/relay.db")
        database = DEFAULT_DATABASE
    database = _from_config_folder(database, path)
    admin_token = data.get("admin_token") or (env or os.environ).get("KAMELEOON_RELAY_ADMIN_TOKEN")
    if admin_token is not None and not isinstance(admin_token, str):
        problems.add("admin_token", "must be a string")
        admin_token = None
    if admin_token and len(admin_token) < MIN_ADMIN_TOKEN:
        # Never echoed: the length is all the message may say about a password.
        problems.add(
            "admin_token",
            f"must be at least {MIN_ADMIN_TOKEN} characters (it has {len(admin_token)}); "
            "try `python -c 'import secrets; print(secrets.token_urlsafe(24))'`",
        )
    allowed_hosts = _allowed_hosts(data.get("allowed_hosts"), problems)
    dedupe_window = _duration(data, "dedupe_window", DEFAULT_DEDUPE_WINDOW, problems)
    retention = _duration(data, "retention", DEFAULT_RETENTION, problems)
    if retention < dedupe_window:
        problems.add(
            "retention",
            f"must not be shorter than dedupe_window ({dedupe_window:g}s): events pruned "
            "earlier could no longer be recognised as duplicates",
        )
    delivery = _delivery(data.get("delivery"), problems)
    config = Config(
        sources=sources,
        destinations=destinations,
        database=database,
        admin_token=admin_token or None,
        allowed_hosts=allowed_hosts,
        dedupe_window=dedupe_window,
        delivery=delivery,
        retention=retention,
        path=path,
        overlay=overlay_path(data.get("overlay"), path),
    )
    if not problems.items:
        # Triggers and mappings are checked by compiling them, as the relay will.
        problems.items.extend(compile_problems(config))
    if problems.items:
        raise ConfigError(problems.items)
    return config


def _from_config_folder(database: str, config_path: Path | None) -> str:
    """A relative SQLite path is relative to the config file's folder, as `overlay:` is."""
    prefix = "sqlite:///"
    if config_path is None or not database.startswith(prefix):
        return database
    file, query = database[len(prefix) :].partition("?")[::2]
    if not file or file == ":memory:" or Path(file).is_absolute():
        return database
    resolved = os.path.normpath(config_path.resolve().parent / file)
    return f"{prefix}{resolved}" + (f"?{query}" if query else "")


def _allowed_hosts(raw: Any, problems: _Problems) -> tuple[str, ...]:
    """Host names (no scheme, no port) the admin surface answers besides loopback's."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.add("allowed_hosts", "must be a list of host names")
        return ()
    hosts: list[str] = []
    for index, host in enumerate(raw):
        if not isinstance(host, str) or not _HOST_NAME.fullmatch(host):
            problems.add(
                f"allowed_hosts[{index}]",
                "must be a host name or IP address, without scheme or port "
                "(relay.example.com, 10.0.0.5, [fd00::5])",
            )
            continue
        hosts.append(host.lower())
    return tuple(hosts)


def _syntax_error(error: yaml.YAMLError | orjson.JSONDecodeError) -> str:
    """Where and why, as `line 3, column 7: invalid YAML: <reason> (<context>)`."""
    if isinstance(error, orjson.JSONDecodeError):
        return f"line {error.lineno}, column {error.colno}: invalid JSON: {error.msg}"
    mark = getattr(error, "problem_mark", None)
    place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    reason = getattr(error, "problem", None) or type(error).__name__
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and context_mark:
        at = f"line {context_mark.line + 1}, column {context_mark.column + 1}"
        reason = f"{reason} ({context} that starts at {at})"
    elif context:
        reason = f"{reason} ({context})"
    return f"{place}invalid YAML: {_unshield(reason)}"


def load_config(
    path: str | Path, env: Mapping[str, str] | None = None, needed: tuple[str, ...] | None = None
) -> Config:
    """Load a YAML (or JSON) config file; ConfigError names the file and every bad key.

    `needed` limits which keys' environment variables must be set (QUEUE_KEYS to read
    the queue without the production secrets)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{file}: cannot read ({error.strerror or error})"]) from None
    try:
        shielded = _shield_env_refs(text)
        data = orjson.loads(shielded) if file.suffix == ".json" else yaml.safe_load(shielded)
    except (yaml.YAMLError, orjson.JSONDecodeError) as error:
        raise ConfigError([f"{file}: {_syntax_error(error)}"]) from None
    try:
        config = parse_config(apply_overlay(data, file), env, file, needed)
    except ConfigError as error:
        raise ConfigError([f"{file}: {problem}" for problem in error.problems]) from None
    origin, warnings = overlay_report(data, file)
    return dataclasses.replace(
        config,
        subscriptions_from=origin,
        config_fingerprints=config_fingerprints(data),
        overlay_warnings=warnings,
    )
