"""The Sources page's data: per source, what came in over the last hour (accepted and
refused from the store, duplicates from this process's ingest), and a stream of the
newest events, stored and refused, with their JSON; search by messageId, userId or name.
"""

from __future__ import annotations

import math
import time
from typing import Any

from kameleoon_relay.ingest.source_log import SourceLog
from kameleoon_relay.store import Store

WINDOW = 3600.0
BUCKET = 60.0
SEARCH_WINDOW = 7 * 86_400.0  # a search by name reads bodies: a week back at most
STREAM_LIMIT = 50
KINDS = ("accepted", "refused", "duplicates")


def _zero() -> dict[str, int]:
    return dict.fromkeys(KINDS, 0)


async def volume(
    store: Store, log: SourceLog | None, names: list[str], now: float | None = None
) -> dict[str, Any]:
    """{source: {"hour": counts, "series": [{at, accepted, refused, duplicates}] per
    minute}}: every configured source, and any other seen in the window."""
    now = time.time() if now is None else now
    start = math.floor((now - WINDOW) / BUCKET) * BUCKET
    minutes = list(range(int(start), int(now) + 1, int(BUCKET)))
    cells: dict[str, dict[int, dict[str, int]]] = {name: {} for name in names}
    rows = await store.source_volume(start, BUCKET)
    duplicates = log.duplicates(start) if log is not None else []
    for row in [*rows, *duplicates]:
        cell = cells.setdefault(row["source"], {}).setdefault(round(row["at"]), _zero())
        for kind in KINDS:
            cell[kind] += row.get(kind, 0)
    found = {}
    for source, by_minute in cells.items():
        series = [{"at": at, **by_minute.get(at, _zero())} for at in minutes]
        hour = {kind: sum(point[kind] for point in series) for kind in KINDS}
        found[source] = {"hour": hour, "series": series}
    return found


def _entry(kind: str, row: dict[str, Any]) -> dict[str, Any]:
    event = row["event"]
    fields = event if isinstance(event, dict) else {}
    name = fields.get("event") or fields.get("name")
    user = row.get("user_id") or fields.get("userId")
    return {
        "kind": kind,
        "id": row.get("id"),
        "seq": row.get("seq"),
        "source": row["source"],
        "received_at": row["received_at"],
        "message_id": row.get("message_id") or fields.get("messageId"),
        "user_id": user if isinstance(user, str) else None,
        "type": fields.get("type") if isinstance(fields.get("type"), str) else None,
        "name": name if isinstance(name, str) else None,
        "problems": row.get("problems"),
        "event": event,
    }


def _newest_first(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: e["received_at"], reverse=True)[:STREAM_LIMIT]


async def stream(
    store: Store, log: SourceLog | None, after: int, refused_after: int, log_after: int
) -> dict[str, Any]:
    """The events newer than the cursors, newest first, and the cursors to ask with next."""
    found = await store.recent_events(after, refused_after, STREAM_LIMIT)
    refused_singles = log.refused(log_after) if log is not None else []
    entries = [
        *(_entry("accepted", row) for row in found["accepted"]),
        *(_entry("refused", row) for row in found["refused"]),
        *(_entry("refused", row) for row in refused_singles),
    ]
    return {
        "events": _newest_first(entries),
        "cursor": {
            "after": max([after, *(r["id"] for r in found["accepted"])]),
            "refused_after": max([refused_after, *(r["id"] for r in found["refused"])]),
            "log_after": max([log_after, *(r["seq"] for r in refused_singles)]),
        },
    }


async def search(
    store: Store, log: SourceLog | None, text: str, source: str | None, now: float | None = None
) -> list[dict[str, Any]]:
    """Events whose messageId, userId or name is `text` (the last week), newest first."""
    now = time.time() if now is None else now
    found = await store.find_events(text, now - SEARCH_WINDOW, source, STREAM_LIMIT)
    singles = [
        row
        for row in (log.refused() if log is not None else [])
        if (source is None or row["source"] == source) and _names(row["event"], text)
    ]
    return _newest_first(
        [
            *(_entry("accepted", row) for row in found["accepted"]),
            *(_entry("refused", row) for row in found["refused"]),
            *(_entry("refused", row) for row in singles),
        ]
    )


def _names(event: Any, text: str) -> bool:
    if not isinstance(event, dict):
        return False
    return text in (event.get("messageId"), event.get("userId"), event.get("event"),
                    event.get("name"))  # fmt: skip
