"""Required fields a mapping cannot produce: refused when a subscription is saved,
as Segment's mapping editor refuses it, rather than failing every event later."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from kameleoon_relay.actions.definitions import Field


def unmapped_required(fields: Mapping[str, Field], mapping: Mapping[str, Any]) -> list[str]:
    """Keys of required fields with no value a directive could resolve: absent, or null
    (a `@literal` of null included)."""
    return [
        key
        for key, spec in fields.items()
        if spec.required and not _could_produce(mapping.get(key))
    ]


def _could_produce(value: Any) -> bool:
    if value is None:
        return False
    return not (isinstance(value, dict) and len(value) == 1 and value.get("@literal", 0) is None)


def required_field_problem(fields: Mapping[str, Field], key: str) -> str:
    """One line: the field, and the mapping that would produce it (its default)."""
    spec = fields[key]
    example = orjson.dumps(spec.default).decode() if spec.default is not None else '{"@path": ...}'
    return (
        f"required field {key!r} ({spec.label}) is not mapped, so every matching event would "
        f"fail validation; map it, e.g. {key}: {example}"
    )
