"""The ordering window of `kameleoon-relay bench`: each user's events in order, or not.

A backlog of `users` x `per_user` events (each user's n-th event ingested before anyone's
(n+1)-th) is stored by a relay whose delivery is parked, then drained by a relay with
default settings but `delivery.ordering`, into the sandbox answering 20% of requests 503
(its own process). The sandbox keeps the order events arrived in (GET /api/arrivals):
an out-of-order pair is two events of one user that arrived in the other order than
they were ingested. Run once with `ordering: none`, once with `per_user` (the default);
the delivered rate of both says what the order costs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

ERROR_RATE = 0.2  # share of requests the sandbox answers 503
SEED = 18  # the sandbox's faults, repeatable from run to run
BATCH = 100


def events(users: int, per_user: int, run: str) -> list[dict[str, Any]]:
    """In ingest order. messageIds sort in each user's ingest order."""
    return [
        {
            "type": "track",
            "event": "Ordered Step",
            "messageId": f"{run}-u{user:05d}-{n:05d}",
            "userId": f"{run}-user-{user:05d}",
            "properties": {"step": n, "kameleoonVisitorCode": f"{run}-v{user:05d}"},
        }
        for n in range(per_user)
        for user in range(users)
    ]


def ingest(url: str, write_key: str, items: list[dict[str, Any]]) -> None:
    """One batch after the other: each stored before the next is sent."""
    with httpx.Client(auth=(write_key, ""), timeout=30) as client:
        for start in range(0, len(items), BATCH):
            answer = client.post(f"{url}/v1/batch", json={"batch": items[start : start + BATCH]})
            if answer.status_code != 200:
                raise RuntimeError(f"ordering: ingest answered {answer.status_code}")


def out_of_order(arrivals: dict[str, list[str]]) -> tuple[int, int]:
    """(pairs of one user's events that arrived inverted, events that arrived after a
    later event of their user)."""
    pairs = overtaken = 0
    for ids in arrivals.values():
        latest = ""
        for index, mid in enumerate(ids):
            pairs += sum(1 for earlier in ids[:index] if earlier > mid)
            if mid < latest:
                overtaken += 1
            latest = max(latest, mid)
    return pairs, overtaken


def await_delivery(sandbox_url: str, total: int, timeout: float, alive: Callable[[], bool]) -> None:
    """Until the sandbox (this window's alone) has accepted `total` events."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=10) as client:
        while (accepted := client.get(f"{sandbox_url}/api/stats").json()["accepted"]) < total:
            if time.monotonic() > deadline or not alive():
                raise RuntimeError(f"ordering: the sandbox accepted {accepted} of {total}")
            time.sleep(0.05)


def figures(sandbox_url: str, total: int) -> dict[str, Any]:
    """Order and rate, from the sandbox's arrivals (its clock: when each event came)."""
    answer = httpx.get(f"{sandbox_url}/api/arrivals", timeout=30).json()
    arrived, times = answer["users"], answer["at"]
    pairs, overtaken = out_of_order(arrived)
    to_all = times[-1] - times[0]
    to_p95 = times[int(0.95 * (len(times) - 1))] - times[0]
    return {
        "events": total,
        "arrived": sum(map(len, arrived.values())),
        "out_of_order_pairs": pairs,
        "events_overtaken": overtaken,
        "seconds_to_all": round(to_all, 3),
        "seconds_to_95pct": round(to_p95, 3),
        # The retry tail (backoff from 1 s) dominates the time to all: 95% says the rate.
        "events_per_s_to_95pct": round(0.95 * total / to_p95, 1) if to_p95 > 0 else 0.0,
        "events_per_s_to_all": round(total / to_all, 1) if to_all > 0 else 0.0,
    }
