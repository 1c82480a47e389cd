"""Queue gauges for Prometheus, refreshed from the store at each scrape of /metrics.

Labelled by destination name only (a config name): never a URL, a key or a user id.
"""

from __future__ import annotations

import time

from prometheus_client import Gauge

from kameleoon_relay.web.state import RelayState

QUEUE_DEPTH = Gauge(
    "kameleoon_relay_queue_depth",
    "Deliveries waiting (pending, retrying or in flight), per destination.",
    ["destination"],
)
OLDEST_PENDING_AGE = Gauge(
    "kameleoon_relay_queue_oldest_pending_age_seconds",
    "Age of the oldest unfinished delivery, per destination (0 when none waits).",
    ["destination"],
)


async def refresh_queue_gauges(relay: RelayState) -> None:
    depth = await relay.store.queue_depth(time.time())
    names = {d.name for d in relay.config.destinations} | set(depth)
    for name in sorted(names):
        entry = depth.get(name, {"depth": 0, "oldest_age": 0.0})
        QUEUE_DEPTH.labels(name).set(entry["depth"])
        OLDEST_PENDING_AGE.labels(name).set(entry["oldest_age"])
