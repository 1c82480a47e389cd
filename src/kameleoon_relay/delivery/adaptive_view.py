"""The adaptive delivery state per destination, as the dashboard and `status` show it: the
gauges (limit, in flight, RTT mean and EWMA, paused-until, paced rate) summed over this
process and the delivery processes that report to it, and a short history of the limit
and the delivered rate (one sample every `SAMPLE_SECONDS`, `HISTORY_SECONDS` kept).
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from typing import Any

from kameleoon_relay.delivery.metrics import DELIVERY_METRICS

PREFIX = "kameleoon_relay_delivery_"
FIELDS = {
    PREFIX + "concurrency_limit": "limit",
    PREFIX + "in_flight": "in_flight",
    PREFIX + "rtt_seconds": "rtt_seconds",
    PREFIX + "rtt_ewma_seconds": "rtt_ewma_seconds",
    PREFIX + "paused_until_seconds": "paused_until",
    PREFIX + "rate_limit_per_second": "rate_per_second",
}
DELIVERED = PREFIX + "attempts_total"
SAMPLE_SECONDS = 5.0
HISTORY_SECONDS = 600.0

_lock = threading.Lock()
_history: collections.deque[tuple[float, dict[str, tuple[float, float]]]] = collections.deque()


def current() -> dict[str, dict[str, float]]:
    """{destination: {limit, in_flight, rtt_seconds, rtt_ewma_seconds, paused_until,
    rate_per_second, delivered}} from the merged delivery metrics."""
    found: dict[str, dict[str, float]] = {}
    for metric in DELIVERY_METRICS.collect():
        for sample in metric.samples:
            name = sample.labels.get("destination")
            if name is None:
                continue
            if sample.name in FIELDS:
                found.setdefault(name, {})[FIELDS[sample.name]] = sample.value
            elif sample.name == DELIVERED and sample.labels.get("outcome") == "delivered":
                entry = found.setdefault(name, {})
                entry["delivered"] = entry.get("delivered", 0.0) + sample.value
    return {name: entry for name, entry in found.items() if "limit" in entry}


def sample(now: float | None = None) -> dict[str, dict[str, float]]:
    """The current state, kept in the history when the last sample is old enough."""
    now = time.time() if now is None else now
    state = current()
    with _lock:
        if not _history or now - _history[-1][0] >= SAMPLE_SECONDS:
            _history.append(
                (now, {n: (e["limit"], e.get("delivered", 0.0)) for n, e in state.items()})
            )
        while _history and now - _history[0][0] > HISTORY_SECONDS:
            _history.popleft()
    return state


def history(destination: str) -> list[dict[str, float]]:
    """[{at, limit, delivered_per_s}] over the last minutes, oldest first."""
    with _lock:
        points = [(at, values[destination]) for at, values in _history if destination in values]
    series = []
    for (before, (_, delivered_before)), (at, (limit, delivered)) in itertools.pairwise(points):
        rate = max(0.0, delivered - delivered_before) / (at - before) if at > before else 0.0
        series.append({"at": at, "limit": limit, "delivered_per_s": round(rate, 1)})
    return series


def overview(now: float | None = None) -> dict[str, Any]:
    """{destination: state + its history}: the dashboard's "Delivery" card."""
    state = sample(now)
    return {name: {**entry, "history": history(name)} for name, entry in state.items()}


def _sample_when_due() -> None:
    """After a delivery process reports: a history sample when one is due (cheap if not)."""
    with _lock:
        due = not _history or time.time() - _history[-1][0] >= SAMPLE_SECONDS
    if due:
        sample()


DELIVERY_METRICS.listeners.append(_sample_when_due)
