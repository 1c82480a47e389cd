"""The event's `integrations` object, honoured as Segment documents it.

`All` (default true) turns every destination on or off; a key naming the
destination (one of its catalog names, or its configured `name`) overrides
`All`. `false` turns it off, `true` or an object turns it on, and keys are
case-sensitive. Any key naming the destination set to `false` wins over one
set to `true`: this object carries consent, so doubt keeps the event back.
A `null` value counts as absent; an `integrations` that is not an object is
ignored, as Segment ignores it.
"""

from __future__ import annotations

from typing import Any


def integrations_refusal(event: dict[str, Any], names: tuple[str, ...]) -> str | None:
    """Why the event's `integrations` object keeps it from a destination called
    any of `names` (its catalog names, then its configured name), else None."""
    integrations = event.get("integrations")
    if not integrations or not isinstance(integrations, dict):
        return None
    named = False
    for name in names:
        value = integrations.get(name)
        if value is False:
            return f'integrations["{name}"] is false'
        named = named or value is not None
    if not named and integrations.get("All") is False:
        return (
            "integrations.All is false and no key names this destination ("
            + ", ".join(f'"{name}"' for name in names)
            + ")"
        )
    return None
