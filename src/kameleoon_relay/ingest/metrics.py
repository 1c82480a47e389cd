"""Prometheus metrics of the ingest side (delivery has its own, in `delivery`)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

INGEST_REQUESTS = Counter(
    "kameleoon_relay_ingest_requests_total",
    "Tracking API requests by endpoint and HTTP status.",
    ["endpoint", "status"],
)
INGEST_EVENTS = Counter(
    "kameleoon_relay_ingest_events_total",
    "Events received, by outcome: accepted, duplicate (messageId seen) or rejected.",
    ["outcome"],
)
COMMIT_SIZE = Histogram(
    "kameleoon_relay_ingest_commit_events",
    "Events written per store transaction (concurrent requests share one).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2500, 5000, 10000),
)


def record_commit(size: int, result: Any) -> None:
    """Counts one group commit: its size, and its events stored or found duplicate."""
    COMMIT_SIZE.observe(size)
    INGEST_EVENTS.labels("accepted").inc(result.accepted)
    INGEST_EVENTS.labels("duplicate").inc(result.duplicates)
