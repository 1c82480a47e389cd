"""The Data API destination's own config keys: token_url, goals, custom_data, batch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kameleoon_relay.actions import BatchLimits
from kameleoon_relay.durations import parse_duration

DEFAULT_TOKEN_URL = "https://api.kameleoon.com/oauth/token"
OPTION_KEYS = ("token_url", "goals", "custom_data", "batch")
_BATCH_KEYS = ("max_events", "max_bytes", "max_wait")
MAX_REQUEST_BYTES = 3_000_000  # Kameleoon's documented limit for one request


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _names_to_ints(
    raw: Any, key: str, positive: bool, what: str, problems: dict[str, str]
) -> dict[str, int]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems[key] = f"must be a mapping of names to {what}"
        return {}
    found: dict[str, int] = {}
    for name, value in raw.items():
        if not _is_int(value) or (positive and value < 1):
            need = "a positive integer" if positive else "an integer"
            problems[f"{key}.{name}"] = f"must be {need} ({what}), got {value!r}"
        else:
            found[str(name)] = value
    return found


def _batch(raw: Any, problems: dict[str, str]) -> BatchLimits:
    if raw is None:
        return BatchLimits()
    if not isinstance(raw, dict):
        problems["batch"] = "must be a mapping {max_events, max_bytes, max_wait}"
        return BatchLimits()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _BATCH_KEYS:
            problems[f"batch.{key}"] = f"unknown key (expected one of: {', '.join(_BATCH_KEYS)})"
        elif key == "max_wait":
            try:
                values[key] = parse_duration(value)
            except ValueError as error:
                problems["batch.max_wait"] = str(error)
        elif not _is_int(value) or value < 1:
            problems[f"batch.{key}"] = "must be a positive integer"
        elif key == "max_bytes" and value > MAX_REQUEST_BYTES:
            problems["batch.max_bytes"] = f"must be at most {MAX_REQUEST_BYTES} (Kameleoon's limit)"
        else:
            values[key] = value
    return BatchLimits(**values)


def parse_options(raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(options, problems by key path relative to the destination)."""
    problems: dict[str, str] = {}
    token_url = raw.get("token_url", DEFAULT_TOKEN_URL)
    if not isinstance(token_url, str) or not token_url.startswith(("http://", "https://")):
        problems["token_url"] = "must be an http:// or https:// URL"
        token_url = DEFAULT_TOKEN_URL
    options = {
        "token_url": token_url,
        "goals": _names_to_ints(raw.get("goals"), "goals", True, "a Kameleoon goal id", problems),
        "custom_data": _names_to_ints(
            raw.get("custom_data"), "custom_data", False, "a custom data index", problems
        ),
        "batch": _batch(raw.get("batch"), problems),
    }
    return options, problems
