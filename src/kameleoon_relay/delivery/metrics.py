"""Prometheus metrics of delivery, on the default registry that `/metrics` serves.

Labels are config names (destination, action) and outcomes: never URLs or headers.

Delivery may run in other processes than the one serving `/metrics` (see `processes`):
those send `snapshot()`s of their metrics, and the one collector registered here sums
them with this process's own, so `/metrics` shows all delivery wherever it ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from kameleoon_relay.delivery.concurrency import LimitState
from kameleoon_relay.delivery.throttle import ThrottleState

# Not registered one by one: `_Merged` below serves them, with the other processes' values.
ATTEMPTS = Counter(
    "kameleoon_relay_delivery_attempts",
    "Delivery attempts by destination, action and outcome (delivered, retry, failed, dead).",
    ["destination", "action", "outcome"],
    registry=None,
)
LATENCY = Histogram(
    "kameleoon_relay_delivery_duration_seconds",
    "Time from sending a request to its answer (or error).",
    ["destination", "action"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=None,
)
IN_FLIGHT = Gauge(
    "kameleoon_relay_delivery_in_flight",
    "Requests being sent right now, per destination.",
    ["destination"],
    registry=None,
)
CONCURRENCY_LIMIT = Gauge(
    "kameleoon_relay_delivery_concurrency_limit",
    "Requests a destination may have in flight now (adaptive; summed over processes).",
    ["destination"],
    registry=None,
)
RTT_MEAN = Gauge(
    "kameleoon_relay_delivery_rtt_seconds",
    "Mean round trip of the last adjustment interval's successful requests.",
    ["destination"],
    registry=None,
)
RTT_EWMA = Gauge(
    "kameleoon_relay_delivery_rtt_ewma_seconds",
    "Moving average (EWMA, alpha 0.4) of the intervals' mean round trips.",
    ["destination"],
    registry=None,
)
PAUSED_UNTIL = Gauge(
    "kameleoon_relay_delivery_paused_until_seconds",
    "Unix time until which a 429's Retry-After pauses the destination (0: not paused).",
    ["destination"],
    registry=None,
)
RATE = Gauge(
    "kameleoon_relay_delivery_rate_limit_per_second",
    "Requests per second the destination is paced at (learnt from 429s or configured; "
    "0: not paced).",
    ["destination"],
    registry=None,
)
_OWN = (ATTEMPTS, LATENCY, IN_FLIGHT, CONCURRENCY_LIMIT, RTT_MEAN, RTT_EWMA, PAUSED_UNTIL, RATE)
# Gauges that another process's value does not add to: the largest is shown.
_NOT_SUMMED = frozenset(
    {
        "kameleoon_relay_delivery_rtt_seconds",
        "kameleoon_relay_delivery_rtt_ewma_seconds",
        "kameleoon_relay_delivery_paused_until_seconds",
    }
)


class DestinationGauges:
    """The adaptive state of one destination's worker, on the gauges above."""

    def __init__(self, destination: str) -> None:
        self._limit = CONCURRENCY_LIMIT.labels(destination)
        self._rtt = RTT_MEAN.labels(destination)
        self._ewma = RTT_EWMA.labels(destination)
        self._paused = PAUSED_UNTIL.labels(destination)
        self._rate = RATE.labels(destination)

    def show(self, limit: LimitState, throttle: ThrottleState, rate: float | None) -> None:
        self._limit.set(limit.limit)
        self._rtt.set(limit.rtt_mean or 0.0)
        self._ewma.set(limit.rtt_ewma or 0.0)
        left = throttle.paused_until - time.monotonic()
        self._paused.set(time.time() + left if left > 0 else 0.0)
        self._rate.set(rate or 0.0)


# A snapshot: per metric family, (sample name, labels, value) of every sample.
Snapshot = list[tuple[str, str, str, list[tuple[str, dict[str, str], float]]]]


def snapshot() -> Snapshot:
    """This process's delivery metrics, as plain data to send to the serving process."""
    return [
        (
            family.name,
            family.documentation,
            family.type,
            [(s.name, s.labels, s.value) for s in family.samples if not _created(s.name)],
        )
        for metric in _OWN
        for family in metric.collect()
    ]


def _created(sample_name: str) -> bool:
    # When a series began, per process: neither summable nor needed for rates.
    return sample_name.endswith("_created")


class _Merged(Collector):
    """This process's delivery metrics plus the latest snapshot of each other process.

    A process that ended is retired: its counters and histograms are added to those of
    the processes that ended before it, so they never go back; its gauges (requests in
    flight) are dropped, as it has none now.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._others: dict[Any, Snapshot] = {}
        self.listeners: list[Callable[[], None]] = []  # called after each update
        self._retired: Snapshot = []

    def update(self, sender: Any, data: Snapshot) -> None:
        with self._lock:
            self._others[sender] = data
        for listener in self.listeners:
            listener()

    def retire(self, sender: Any) -> None:
        with self._lock:
            data = self._others.pop(sender, None)
            if data is not None:
                kept = [family for family in data if family[2] != "gauge"]
                self._retired = _sum([self._retired, kept])

    def forget(self) -> None:
        with self._lock:
            self._others.clear()
            self._retired = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            others = [data for data in (self._retired, *self._others.values()) if data]
        for family in snapshot() if not others else _sum([snapshot(), *others]):
            name, documentation, kind, samples = family
            metric = Metric(name, documentation, kind)
            for sample_name, labels, value in samples:
                metric.add_sample(sample_name, labels, value)
            yield metric


def _sum(snapshots: list[Snapshot]) -> Snapshot:
    families: dict[str, tuple[str, str, dict[tuple[str, tuple], float]]] = {}
    for data in snapshots:
        for name, documentation, kind, samples in data:
            _, _, values = families.setdefault(name, (documentation, kind, {}))
            for sample_name, labels, value in samples:
                key = (sample_name, tuple(sorted(labels.items())))
                if name in _NOT_SUMMED:
                    values[key] = max(values.get(key, 0.0), value)
                else:
                    values[key] = values.get(key, 0.0) + value
    return [
        (name, documentation, kind, [(n, dict(labels), v) for (n, labels), v in values.items()])
        for name, (documentation, kind, values) in families.items()
    ]


DELIVERY_METRICS = _Merged()
REGISTRY.register(DELIVERY_METRICS)
