"""What the store does not keep, per source, for the dashboard's Sources page: how many
events were duplicates (per minute, the last day) and the single events refused with a
400 (kept apart only in a batch). Process-local, so only this relay's ingest is seen,
and only since it started; touched on a refusal or a commit with duplicates, never on
the common path."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request

KEEP_SECONDS = 86_400.0
BUCKET = 60.0
MAX_REFUSED = 200
MAX_BODY = 32 * 1024  # a refused body shown as it came, cut to a message's limit


class SourceLog:
    def __init__(self) -> None:
        self._duplicates: Counter[tuple[str, int]] = Counter()
        self._refused: deque[dict[str, Any]] = deque(maxlen=MAX_REFUSED)
        self._seq = 0

    def count_duplicates(self, by_source: Mapping[str, int], now: float | None = None) -> None:
        if not by_source:
            return
        minute = int((time.time() if now is None else now) // BUCKET)
        for source, n in by_source.items():
            self._duplicates[(source, minute)] += n
        if len(self._duplicates) > 4096:  # sources times minutes: forget the oldest day
            oldest = minute - int(KEEP_SECONDS // BUCKET)
            for key in [k for k in self._duplicates if k[1] < oldest]:
                del self._duplicates[key]

    def refuse(self, source: str, body: bytes, problems: list[str], at: float) -> None:
        """A single event answered 400: kept to be shown with why."""
        self._seq += 1
        self._refused.append(
            {"seq": self._seq, "source": source, "received_at": at,
             "body": bytes(body[:MAX_BODY]), "problems": list(problems)}
        )  # fmt: skip

    def duplicates(self, since: float) -> list[dict[str, Any]]:
        """Per source and minute since `since`: {source, at, duplicates}, oldest first."""
        first = int(since // BUCKET)
        return [
            {"source": source, "at": minute * BUCKET, "duplicates": n}
            for (source, minute), n in sorted(self._duplicates.items(), key=lambda i: i[0][1])
            if minute >= first
        ]

    def refused(self, after: int = 0) -> list[dict[str, Any]]:
        """Refused single events with `seq` > `after`, newest first, bodies as JSON."""
        shown = []
        for entry in reversed(self._refused):
            if entry["seq"] <= after:
                break
            try:
                event = orjson.loads(entry["body"])
            except orjson.JSONDecodeError:
                event = entry["body"].decode(errors="replace")
            shown.append({**{k: v for k, v in entry.items() if k != "body"}, "event": event})
        return shown


def source_log_of(request: Request) -> SourceLog | None:
    """The app's log (server/app.py sets it); None for an app assembled without one."""
    return getattr(request.app.state, "source_log", None)
