"""What both stores say and shape alike: the delivery filters, the summary columns, the
reported state, requests as shown, and the stats document. SQL dialects differ only in
their parameter mark (`?` or `%s`) and how a comma-separated list is searched."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kameleoon_relay.store.models import (
    FINAL_STATES,
    REPORTED_STATES,
    DeliveryOutcome,
    DeliveryQuery,
)

SUMMARY_COLUMNS = """
d.id, d.event_id, e.message_id, e.source, e.user_id, e.received_at, d.destination,
d.action, d.state, d.attempts, d.replays, d.created_at, d.updated_at, d.next_attempt_at,
d.last_status, d.last_error, d.last_attempt_at, d.last_latency
"""
# Final stored states, as one SQL term: SQLite's partial index deliveries_final has it.
FINAL_STATES_SQL = f"state IN ({', '.join(repr(state) for state in FINAL_STATES)})"
# The state as reported, in SQL: a pending delivery attempted before is `retrying`.
REPORTED_STATE_SQL = (
    "CASE WHEN d.state = 'pending' AND d.attempts > 0 THEN 'retrying' ELSE d.state END"
)


# Deliveries not yet finished, as one SQL term: the partial index of open deliveries per
# user (deliveries_user_open, both dialects) has it, and per-user order names it exactly.
OPEN_STATES_SQL = "state IN ('pending', 'in_flight')"


def user_order_sql(hot_users: str | None) -> str:
    """The claim's per-user order over deliveries `d`: `d` may go when it has no user key,
    when its user is one of the hot users (`hot_users`, an SQL test of `d.user_key`; None:
    there are none), or when no earlier delivery of its user to its destination is open
    (pending, retrying or in flight): one probe of the index deliveries_user_open."""
    hot = f" OR {hot_users}" if hot_users else ""
    return (
        f"(d.user_key IS NULL{hot} OR NOT EXISTS (SELECT 1 FROM deliveries p"
        " WHERE p.destination = d.destination AND p.user_key = d.user_key"
        f" AND p.{OPEN_STATES_SQL} AND p.id < d.id))"
    )


@dataclass(frozen=True)
class Dialect:
    mark: str  # the parameter placeholder
    action_listed: str  # `d.action` (comma-separated) lists the parameter
    true: str
    event_name: str  # the name of event `e` (its body's `event`, else `name`), or NULL
    bucket_index: str  # which `bucket` since `since` `received_at` falls in (2 parameters)


SQLITE = Dialect(
    "?",
    "instr(',' || d.action || ',', ',' || ? || ',') > 0",
    "1 = 1",
    "CAST(coalesce(json_extract(CAST(e.body AS TEXT), '$.event'),"
    " json_extract(CAST(e.body AS TEXT), '$.name')) AS TEXT)",
    "CAST((received_at - ?) / ? AS INTEGER)",  # times after `since`: truncation is floor
)
# A body with an escaped NUL (`\u0000`) has no name here: PostgreSQL's json refuses to
# unescape it, and one such event must not break the whole list.
POSTGRES = Dialect(
    "%s",
    "position(',' || %s || ',' in ',' || d.action || ',') > 0",
    "TRUE",
    "(CASE WHEN position('\\u0000' in convert_from(e.body, 'UTF8')) = 0 THEN"
    " coalesce(convert_from(e.body, 'UTF8')::json ->> 'event',"
    " convert_from(e.body, 'UTF8')::json ->> 'name') END)",
    "floor((received_at - %s) / %s)::bigint",
)


def where_clause(query: DeliveryQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    """` WHERE ...` over deliveries `d` joined to events `e`, and its parameters."""
    mark = dialect.mark
    clauses: list[str] = []
    params: list[Any] = []
    if query.states:
        states = []
        for state in query.states:
            if state == "retrying":
                states.append("(d.state = 'pending' AND d.attempts > 0)")
            elif state == "pending":
                states.append("(d.state = 'pending' AND d.attempts = 0)")
            elif state == "in_flight":  # literal: SQLite's partial index deliveries_lease
                states.append("d.state = 'in_flight'")
            else:
                states.append(f"d.state = {mark}")
                params.append(state)
        clauses.append("(" + " OR ".join(states) + ")")
        if set(query.states) <= set(FINAL_STATES):
            # Implied by the states asked for; spelled out, it lets SQLite use its
            # partial index of final deliveries (the term must match the index's).
            clauses.append(f"d.{FINAL_STATES_SQL}")
    if query.action is not None:
        clauses.append(dialect.action_listed)
        params.append(query.action)
    for column, value, operator in (
        ("d.destination", query.destination, "="),
        ("e.message_id", query.message_id, "="),
        ("e.user_id", query.user_id, "="),
        (dialect.event_name, query.event, "="),
        ("e.received_at", query.since, ">="),
        ("e.received_at", query.until, "<"),
        ("d.id", query.before_id, "<"),
    ):
        if value is not None:
            clauses.append(f"{column} {operator} {mark}")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else f" WHERE {dialect.true}"), params


def reported(row: dict[str, Any]) -> dict[str, Any]:
    """The state as reported: a pending delivery attempted before is `retrying`."""
    if row["state"] == "pending" and row["attempts"] > 0:
        row["state"] = "retrying"
    return row


def shown_request(
    url: str | None, headers: str | Mapping[str, str] | None, body: bytes | None
) -> dict[str, Any] | None:
    """A request as it was sent (headers were masked before storing); JSON shown as JSON."""
    if url is None:
        return None
    shown: dict[str, Any] = {"method": "POST", "url": url}
    if isinstance(headers, str):
        headers = orjson.loads(headers)
    shown["headers"] = dict(headers or {})
    if body is not None:
        try:
            shown["json"] = orjson.loads(body)
        except orjson.JSONDecodeError:
            shown["body"] = bytes(body).decode(errors="replace")
    return shown


def stats_document(
    counters: Mapping[str, int],
    delivery_counts: Iterable[tuple[str, str, str, int]],
    filter_counts: Iterable[tuple[str, str, str, int]],
    links: int,
) -> dict[str, Any]:
    """`/api/stats`: from the counters, (destination, action, state, n) and
    (destination, filter, reason, n) rows, and the number of identity links."""

    def zero() -> dict[str, int]:
        return dict.fromkeys(REPORTED_STATES, 0)

    totals = zero()
    destinations: dict[str, Any] = {}
    for destination, action, state, n in delivery_counts:
        entry = destinations.setdefault(destination, {"total": zero(), "actions": {}})
        if action:  # deliveries not yet planned have no action
            for name in action.split(","):
                entry["actions"].setdefault(name, zero())[state] += n
        entry["total"][state] += n
        totals[state] += n
    filtered_total = 0
    for destination, name, reason, n in filter_counts:
        entry = destinations.setdefault(destination, {"total": zero(), "actions": {}})
        per_filter = entry.setdefault("filtered", {}).setdefault(name, {"events": 0, "reasons": {}})
        per_filter["events"] += n
        per_filter["reasons"][reason] = n
        filtered_total += n
    return {
        "events": {
            "received": counters.get("events_received", 0),
            "duplicates": counters.get("events_duplicate", 0),
            "rejected": counters.get("events_rejected", 0),
            "filtered": filtered_total,
        },
        "deliveries": totals,
        "destinations": destinations,
        "identity": {"links": links, "conflicts": counters.get("identity_conflicts", 0)},
    }


def attempt_rows(outcome: DeliveryOutcome) -> list[tuple[Any, ...]]:
    """The `attempts` rows of one outcome, one a request sent (headers as JSON), in the
    column order delivery_id, attempted_at, subscription, action, outcome, status, error,
    latency, url, headers, body, response."""
    return [
        (
            outcome.delivery_id,
            outcome.attempted_at,
            sent.subscription,
            sent.action,
            sent.outcome,
            sent.status,
            sent.error,
            sent.latency,
            sent.url,
            orjson.dumps(sent.headers).decode() if sent.headers is not None else None,
            sent.body,
            sent.response,
        )
        for sent in outcome.requests
    ]
