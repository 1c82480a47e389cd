"""Replay: put stored events back through their destinations as configured today.

Deliveries are selected by state, time window, destination, messageId or userId and
requeued with a fresh retry window; the delivery workers then plan each event with the
config in force, so a fixed API key, endpoint or mapping applies. A dry run plans the
selected events now and reports, per destination and action, what would be sent.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from kameleoon_relay.errors import RelayError
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store import REPLAY_STATES, DeliveryQuery, ProgressCallback, Store

CHUNK = 500  # one transaction each: progress shows, and ingest never waits long


class ReplayError(RelayError, ValueError):
    """A replay asked for something that does not exist (a state, a destination)."""


@dataclass(frozen=True)
class ReplaySelection:
    state: str = "dead"
    since: float | None = None
    until: float | None = None
    destination: str | None = None
    message_id: str | None = None
    user_id: str | None = None
    action: str | None = None
    event: str | None = None  # the event's name (the dashboard's filtered lists)


@dataclass
class ReplayReport:
    matched: int = 0
    requeued: int = 0
    dry_run: bool = False
    # destination -> action (or "filtered", "error: <type>") -> events
    plan: dict[str, dict[str, int]] = field(default_factory=dict)
    example: dict[str, Any] | None = None  # one request that would be sent (key masked)

    def to_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "matched": self.matched,
            "requeued": self.requeued,
            "dry_run": self.dry_run,
        }
        if self.dry_run:
            answer["plan"] = self.plan
            answer["example"] = self.example
        return answer


def query_for(selection: ReplaySelection, pipeline: Pipeline) -> DeliveryQuery:
    """The store query of a selection; ReplayError for an unknown state or destination."""
    states = REPLAY_STATES.get(selection.state) if isinstance(selection.state, str) else None
    if states is None:
        choices = ", ".join(REPLAY_STATES)
        raise ReplayError(f"state must be one of {choices}, not {selection.state!r}")
    if selection.destination is not None:
        known = [d.name for d in pipeline.config.destinations]
        if selection.destination not in known:
            raise ReplayError(
                f"unknown destination {selection.destination!r}; configured: "
                + (", ".join(known) or "none")
            )
    since, until = selection.since, selection.until
    if since is not None and until is not None and since >= until:
        raise ReplayError("since must be before until")
    return DeliveryQuery(
        states=states,
        destination=selection.destination,
        message_id=selection.message_id,
        user_id=selection.user_id,
        action=selection.action,
        event=selection.event,
        since=selection.since,
        until=selection.until,
    )


async def replay(
    store: Store,
    pipeline: Pipeline,
    selection: ReplaySelection,
    *,
    dry_run: bool = False,
    now: float | None = None,
    on_progress: ProgressCallback | None = None,
) -> ReplayReport:
    query = query_for(selection, pipeline)
    total = await store.count_deliveries(query)
    report = ReplayReport(matched=total, dry_run=dry_run)
    if on_progress:
        on_progress(0, total)
    at = time.time() if now is None else now
    after, seen = 0, 0
    while True:
        rows = await store.find_deliveries(query, after_id=after, limit=CHUNK)
        if not rows:
            break
        after = rows[-1]["id"]
        if dry_run:
            for row in rows:
                _tally(report, pipeline, row)
        else:
            report.requeued += await store.requeue([r["id"] for r in rows], query.states, at)
        seen += len(rows)
        if on_progress:
            on_progress(min(seen, max(total, seen)), max(total, seen))
    return report


def _tally(report: ReplayReport, pipeline: Pipeline, row: dict[str, Any]) -> None:
    """What the current config would do with one selected delivery."""
    destination = row["destination"]
    counts = report.plan.setdefault(destination, {})
    try:
        planned = pipeline.plan_for(destination, orjson.loads(row["body"]), row["visitor_code"])
    except KeyError:
        counts["destination disabled"] = counts.get("destination disabled", 0) + 1
        return
    labels = Counter[str]()
    for entry in planned or []:
        if entry.filtered is not None:
            labels["filtered"] += 1
        elif entry.error is not None:
            labels[f"error: {entry.error.type}"] += 1
        else:
            labels[entry.action or ""] += 1
            if report.example is None:
                report.example = entry.to_dict()
    if not planned:
        labels["no subscription matched"] += 1
    for label, n in labels.items():
        counts[label] = counts.get(label, 0) + n
