"""Prometheus metrics of delivery, on the default registry that `/metrics` serves.

Labels are config names (destination, action) and outcomes: never URLs or headers.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter(
    "kameleoon_relay_delivery_attempts",
    "Delivery attempts by destination, action and outcome (delivered, retry, failed, dead).",
    ["destination", "action", "outcome"],
)
LATENCY = Histogram(
    "kameleoon_relay_delivery_duration_seconds",
    "Time from sending a request to its answer (or error).",
    ["destination", "action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IN_FLIGHT = Gauge(
    "kameleoon_relay_delivery_in_flight",
    "Requests being sent right now, per destination.",
    ["destination"],
)
