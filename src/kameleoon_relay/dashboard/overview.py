"""The overview's numbers, from the store: shared by the dashboard and `kameleoon-relay status`.

Per destination and action, over the last hour and day: events received, then what
became of their deliveries (filtered, delivered, retrying, failed, dead, waiting);
throughput per minute over the last hour; p50/p95 delivery latency; queue depth; the
adaptive delivery state (concurrency limit, in flight, RTT, pause, rate) with its history.
"""

from __future__ import annotations

import math
import time
from typing import Any

from kameleoon_relay.delivery import adaptive_view
from kameleoon_relay.store import Store

WINDOWS = {"hour": 3600.0, "day": 86400.0}
TOP_REASONS = 10
COLUMNS = ("received", "filtered", "delivered", "retrying", "failed", "dead", "waiting")
_WAITING = ("pending", "in_flight")


def _zero() -> dict[str, int]:
    return dict.fromkeys(COLUMNS, 0)


def _add(counts: dict[str, int], state: str, n: int) -> None:
    counts["received"] += n
    counts["waiting" if state in _WAITING else state] += n


def summarize(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """activity() rows -> {destination: {"total": counts, "actions": {action: counts}}}."""
    found: dict[str, Any] = {name: {"total": _zero(), "actions": {}} for name in names}
    for row in rows:
        entry = found.setdefault(row["destination"], {"total": _zero(), "actions": {}})
        _add(entry["total"], row["state"], row["n"])
        for action in filter(None, (row["action"] or "").split(",")):
            _add(entry["actions"].setdefault(action, _zero()), row["state"], row["n"])
    return found


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted `values`."""
    if not values:
        return None
    return values[max(0, math.ceil(q * len(values)) - 1)]


async def overview(store: Store, names: list[str], now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    windows = {
        label: summarize(await store.activity(now - seconds), names)
        for label, seconds in WINDOWS.items()
    }
    latency = {
        name: {
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "n": len(values),
        }
        for name, values in (await store.latencies(now - WINDOWS["hour"])).items()
    }
    start = math.floor((now - WINDOWS["hour"]) / 60) * 60
    buckets = {round(b["at"]): b for b in await store.throughput(start, 60.0)}
    series = [
        buckets.get(at, {"at": at, "received": 0, "delivered": 0, "failed": 0})
        for at in range(int(start), int(now) + 1, 60)
    ]
    return {
        "now": now,
        "windows": windows,
        "latency": latency,
        "throughput": series,
        "queue": await store.queue_depth(now),
        "reasons": await store.error_reasons(now - WINDOWS["hour"], TOP_REASONS),
        # Live, from the delivery processes' gauges: empty where no relay delivers here.
        "delivery": adaptive_view.overview(now),
    }
