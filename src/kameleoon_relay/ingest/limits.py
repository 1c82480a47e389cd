"""What an event may hold beyond the Segment Spec: limits that keep one event from
breaking the relay (its stack, the store's encoder) for every other event.

Numbers need no check: JSON is read as JavaScript reads it, so an integer beyond
2**53 (or beyond 64 bits) becomes the nearest float64, the value the reference
destination sends on to Kameleoon.
"""

from __future__ import annotations

from typing import Any

# Levels of objects and arrays in one event, the event itself being level 1.
# Segment's own limit is the 32 KB message; 64 levels is far beyond any real
# tracking plan and far below what the relay's encoders and stack can take.
MAX_EVENT_DEPTH = 64
_PATH_SHOWN = 6  # path segments named in the problem; the rest is elided


def too_deep(event: dict[str, Any], limit: int = MAX_EVENT_DEPTH) -> str | None:
    """A problem naming the first field nested past `limit` levels, or None."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(event, ())]
    while stack:
        node, path = stack.pop()
        items = (
            node.items() if type(node) is dict else enumerate(node) if type(node) is list else None
        )
        if items is None:
            continue
        if len(path) >= limit:
            return f"{_show(path)}: nested deeper than {limit} levels"
        for key, child in items:
            if type(child) is dict or type(child) is list:
                stack.append((child, (*path, str(key))))
    return None


def _show(path: tuple[str, ...]) -> str:
    if len(path) <= _PATH_SHOWN:
        return ".".join(path)
    half = _PATH_SHOWN // 2
    return ".".join(path[:half]) + ".…." + ".".join(path[-half:])
