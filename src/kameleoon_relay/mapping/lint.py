"""Warnings for mappings that actions-core accepts but that are surely not meant:
`@if` with `exist:` (the condition is `exists`), and an `@liquid` template with a
tag or output left open. Each names where, and what to write instead."""

from __future__ import annotations

from typing import Any

_OPENERS = (("{{", "}}"), ("{%", "%}"))


def mapping_warnings(mapping: Any, where: str = "mapping") -> list[str]:
    warnings: list[str] = []
    _walk(mapping, where, warnings)
    return warnings


def _walk(value: Any, where: str, out: list[str]) -> None:
    if isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{where}[{index}]", out)
        return
    if not isinstance(value, dict):
        return
    condition = value.get("@if")
    if (
        isinstance(condition, dict)
        and "exist" in condition
        and not {"exists", "blank"} & set(condition)
    ):
        out.append(
            f"{where}.@if: `exist` is not a condition, so every event fails this mapping "
            '("@if requires an exists key"): write `exists`'
        )
    template = value.get("@liquid")
    if isinstance(template, str):
        unclosed = _unclosed_tag(template)
        if unclosed:
            out.append(
                f"{where}.@liquid: `{unclosed[0]}` at character {unclosed[1] + 1} is never "
                f"closed with `{dict(_OPENERS)[unclosed[0]]}`, so every event fails this mapping"
            )
    for key, item in value.items():
        _walk(item, f"{where}.{key}", out)


def _unclosed_tag(template: str) -> tuple[str, int] | None:
    """The first `{{` or `{%` with no closing `}}` / `%}` after it, and where."""
    position = 0
    while True:
        found = [(template.find(opener, position), opener) for opener, _ in _OPENERS]
        found = [(at, opener) for at, opener in found if at != -1]
        if not found:
            return None
        at, opener = min(found)
        closing = template.find(dict(_OPENERS)[opener], at + 2)
        if closing == -1:
            return opener, at
        position = closing + 2
