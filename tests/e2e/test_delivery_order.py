"""Each user's events reach Kameleoon in the order they were ingested (delivery.ordering:
per_user, the default), with real relay and sandbox processes on loopback.

The sandbox answers 20% of requests 503: a retried event would be overtaken by the same
user's later events (it is, with `ordering: none`); with per-user order it is not, on
SQLite and on PostgreSQL with two relays sharing the queue. Replay keeps the order too,
and a user with more than `hot_user_backlog` waiting is sent without waiting (the
hot-user escape), while a user at the backlog is not.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import WRITE_KEY, relay, sandbox, wait_for, write_config
from tests.helpers.processes import Server, start_server

USERS = 20
PER_USER = 30  # events per user: 600 in all, the users' events interleaved
BATCH = 50
ADMIN_TOKEN = "order-test-admin-token"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
FAST_RETRIES = {"backoff_base": 0.05, "backoff_max": 0.5, "concurrency": 16}


def message_id(prefix: str, user: int, n: int) -> str:
    return f"{prefix}-u{user:02d}-{n:04d}"


def events(prefix: str, users: int = USERS, per_user: int = PER_USER) -> list[dict[str, Any]]:
    """In ingest order: each user's n-th event before anyone's (n+1)-th."""
    return [
        {
            "type": "track",
            "event": "Step",
            "messageId": message_id(prefix, user, n),
            "userId": f"{prefix}-user-{user:02d}",
            "properties": {"n": n, "kameleoonVisitorCode": f"{prefix}-v{user:02d}"},
        }
        for n in range(per_user)
        for user in range(users)
    ]


def ingest(urls: list[str], items: list[dict[str, Any]]) -> None:
    """Batches one after the other (each stored before the next is sent), round-robin over
    `urls`: the ingest order is the list's order."""
    with httpx.Client(auth=(WRITE_KEY, ""), timeout=30) as client:
        for index, start in enumerate(range(0, len(items), BATCH)):
            url = urls[index % len(urls)]
            answer = client.post(f"{url}/v1/batch", json={"batch": items[start : start + BATCH]})
            assert answer.status_code == 200, answer.text


def arrivals(sandbox_url: str) -> dict[str, list[str]]:
    return httpx.get(f"{sandbox_url}/api/arrivals", timeout=30).json()["users"]


def await_all(sandbox_url: str, prefix: str, total: int) -> dict[str, list[str]]:
    def mine() -> dict[str, list[str]] | None:
        found = {
            user: ids for user, ids in arrivals(sandbox_url).items() if user.startswith(prefix)
        }
        return found if sum(map(len, found.values())) >= total else None

    return wait_for(mine, f"all {total} {prefix} events at the sandbox", 180)


def overtaken(users: dict[str, list[str]]) -> int:
    """Events that arrived after a later event of the same user (message ids sort in
    ingest order per user)."""
    count = 0
    for ids in users.values():
        latest = ""
        for mid in ids:
            if mid < latest:
                count += 1
            latest = max(latest, mid)
    return count


def stats(relay_url: str) -> dict[str, Any]:
    return httpx.get(f"{relay_url}/api/stats", headers=ADMIN, timeout=10).json()


def config(directory: Path, sandbox_url: str, **delivery: Any) -> Path:
    return write_config(
        directory,
        sandbox_url,
        admin_token=ADMIN_TOKEN,
        delivery={**FAST_RETRIES, **delivery},
    )


def test_each_users_events_arrive_in_order_under_503s(tmp_path: Path) -> None:
    with sandbox(tmp_path, "--error-rate", "0.2") as box:
        with relay(config(tmp_path, box.url), tmp_path) as r:
            ingest([r.url], events("ord"))
            users = await_all(box.url, "ord", USERS * PER_USER)
            final = stats(r.url)["deliveries"]
        faults = httpx.get(f"{box.url}/api/stats", timeout=10).json()["faults"]["error"]
    assert faults > 50  # the 503s did happen (20% of ~750 attempts)
    assert overtaken(users) == 0
    assert all(len(ids) == PER_USER for ids in users.values()) and len(users) == USERS
    assert final["delivered"] == USERS * PER_USER and final["dead"] == final["failed"] == 0


def test_without_ordering_retried_events_are_overtaken(tmp_path: Path) -> None:
    """The measure above can fail: with `ordering: none`, the same load arrives out of
    order."""
    with (
        sandbox(tmp_path, "--error-rate", "0.2") as box,
        relay(config(tmp_path, box.url, ordering="none"), tmp_path) as r,
    ):
        ingest([r.url], events("any"))
        users = await_all(box.url, "any", USERS * PER_USER)
    assert overtaken(users) > 0


@pytest.mark.slow
def test_two_relays_on_postgresql_keep_each_users_order(tmp_path: Path, pg_url: str) -> None:
    with sandbox(tmp_path, "--error-rate", "0.2") as box:
        path = write_config(
            tmp_path,
            box.url,
            admin_token=ADMIN_TOKEN,
            database=pg_url,
            delivery={**FAST_RETRIES, "lease": 30},
        )
        relays: list[Server] = [
            start_server(["serve", "--config", str(path)], tmp_path / f"relay{i}.log",
                         health_path="/health")
            for i in range(2)
        ]  # fmt: skip
        try:
            ingest([r.url for r in relays], events("pg"))
            users = await_all(box.url, "pg", USERS * PER_USER)
            final = stats(relays[1].url)["deliveries"]
        finally:
            for r in relays:
                r.stop()
    assert overtaken(users) == 0
    assert all(len(ids) == PER_USER for ids in users.values()) and len(users) == USERS
    assert final["delivered"] == USERS * PER_USER


def test_replay_sends_in_the_original_order(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        faults = f"{box.url}/api/faults"
        # Every request refused (400): each delivery fails at once, in whatever order.
        body = {"error_rate": 1.0, "error_statuses": [400]}
        httpx.post(faults, json=body, timeout=10).raise_for_status()
        with relay(config(tmp_path, box.url), tmp_path) as r:
            total = 10 * 10
            ingest([r.url], events("rep", users=10, per_user=10))
            wait_for(lambda: stats(r.url)["deliveries"]["failed"] == total or None, "all failed")
            assert arrivals(box.url) == {}
            # Now 20% 503s: the replay meets retries, and must keep each user's order.
            body = {"error_rate": 0.2, "error_statuses": [503]}
            httpx.post(faults, json=body, timeout=10).raise_for_status()
            answer = httpx.post(f"{r.url}/api/replay", json={"state": "failed"}, headers=ADMIN)
            assert answer.json()["requeued"] == total
            users = await_all(box.url, "rep", total)
    assert overtaken(users) == 0 and len(users) == 10


def watch_in_flight(relay_url: str, stop: threading.Event, seen: list[int]) -> None:
    while not stop.is_set():
        seen.append(stats(relay_url)["deliveries"]["in_flight"])
        time.sleep(0.02)


def in_flight_peak(relay_url: str, sandbox_url: str, prefix: str, count: int) -> int:
    """Ingest `count` events of one user; the most deliveries in flight seen meanwhile."""

    def idle() -> bool:
        d = stats(relay_url)["deliveries"]
        return d["in_flight"] + d["pending"] + d["retrying"] == 0

    wait_for(idle, "the earlier work recorded")  # not counted in this user's peak
    seen: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_in_flight, args=(relay_url, stop, seen))
    watcher.start()
    try:
        ingest([relay_url], events(prefix, users=1, per_user=count))
        await_all(sandbox_url, prefix, count)
    finally:
        stop.set()
        watcher.join()
    return max(seen)


def test_a_hot_user_is_sent_without_waiting(tmp_path: Path) -> None:
    """hot_user_backlog 20: one user with 60 waiting has many in flight at once; a user
    with 20 waiting has one at a time."""
    with (
        sandbox(tmp_path, "--latency-ms", "100") as box,
        relay(config(tmp_path, box.url, hot_user_backlog=20), tmp_path) as r,
    ):
        hot = in_flight_peak(r.url, box.url, "hot", 60)
        calm = in_flight_peak(r.url, box.url, "calm", 20)
        calm_users = {user: ids for user, ids in arrivals(box.url).items() if "calm" in user}
    assert hot > 1
    assert calm == 1
    assert overtaken(calm_users) == 0 and len(calm_users) == 1
