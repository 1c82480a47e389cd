"""Segment Engage (Personas) audiences as Kameleoon receives them.

Engage sends an identify call per user entering or leaving an audience, with a
trait named after the audience in snake_case holding true or false, and
`context.personas` naming the computation. The identify action forwards those
traits intact; `Audience Entered` / `Audience Exited` track events go through
logEvent like any other track call.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

# Words as lodash's snakeCase finds them: acronyms, capitalised words, numbers.
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+|[^\W\d_]+")


def audience_trait(name: str) -> str:
    """The trait key Engage uses for an audience: "Order Completed Last 30 Days"
    becomes "order_completed_last_30_days"."""
    plain = "".join(
        char for char in unicodedata.normalize("NFKD", name) if not unicodedata.combining(char)
    )
    return "_".join(word.lower() for word in _WORDS.findall(plain))


def audience_memberships(event: Mapping[str, Any]) -> dict[str, bool]:
    """Audience key -> membership carried by an Engage identify or track call."""
    context = event.get("context")
    personas = context.get("personas") if isinstance(context, dict) else None
    if not isinstance(personas, dict):
        return {}
    key = personas.get("computation_key")
    if personas.get("computation_class") not in ("audience", "journey_step") or not key:
        return {}
    container = event.get("traits" if event.get("type") == "identify" else "properties")
    if isinstance(container, dict) and isinstance(container.get(key), bool):
        return {key: container[key]}
    return {}
