"""Relay processes sharing one PostgreSQL: a process SIGKILLed under load, and PostgreSQL
itself restarted under load. Every acknowledged event reaches the sandbox; what arrives
twice is counted, reported (pytest -s shows the figures) and bounded.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.load import Load, batch_body, delivered_ids
from tests.e2e.stack import WRITE_KEY, sandbox, wait_for, write_config
from tests.helpers.postgres import PostgresServer, missing_reason, running_postgres
from tests.helpers.processes import Server, free_port, start_server

pytestmark = pytest.mark.slow

LEASE = 5.0  # seconds: a dead process's work comes back quickly
# Longer than the outage (PostgreSQL down ~3 s, the pool back within seconds): outcomes
# that could not be recorded are kept and recorded when it is back, not sent again.
OUTAGE_LEASE = 30.0
CONCURRENCY = 16  # per relay: the most one relay can have in flight
TOTAL = 3000  # acknowledged events per test


def relay_config(directory: Path, sandbox_url: str, database: str, lease: float = LEASE) -> Path:
    delivery = {
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "lease": lease,
        "concurrency": CONCURRENCY,
    }
    return write_config(directory, sandbox_url, database=database, delivery=delivery)


def start_relay(config: Path, log: Path, port: int | None = None) -> Server:
    return start_server(["serve", "--config", str(config)], log, port=port, health_path="/health")


def sandbox_stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/stats", timeout=10).json()


def await_delivery(directory: Path, expected: set[str]) -> None:
    def missing() -> set[str]:
        return expected - delivered_ids(directory / "sandbox.db")

    wait_for(lambda: not missing() or None, "every acknowledged event at the sandbox", 180)
    assert missing() == set()


def queue_stats(relay: Server) -> dict[str, Any]:
    return httpx.get(f"{relay.url}/api/stats", timeout=10).json()


def in_flight(url: str) -> int:
    """Deliveries claimed and not yet recorded, by every relay: the only ones that may be
    sent twice if their relay (or the database) goes away now."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM deliveries WHERE state = 'in_flight'").fetchone()
        return int(row[0]) if row else 0


def report(name: str, **figures: Any) -> None:
    print(f"\n{name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))


def test_three_relays_share_the_queue_and_survive_a_sigkill(tmp_path: Path, pg_url: str) -> None:
    with sandbox(tmp_path) as box:
        config = relay_config(tmp_path, box.url, pg_url)
        ports = [free_port() for _ in range(3)]
        # Started together: their migrations race for the advisory lock.
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            relays = list(
                pool.map(
                    lambda i: start_relay(config, tmp_path / f"relay{i}.log", ports[i]), range(3)
                )
            )
        before = sandbox_stats(box.url)
        load = Load([relay.url for relay in relays], threads=6)
        try:
            load.start()
            wait_for(lambda: load.count() >= TOTAL // 2 or None, "half the load", 120)
            relays[1].proc.kill()  # SIGKILL: no shutdown, its in-flight work held by leases
            relays[1].proc.wait(10)
            killed_at = load.count()
            # What the dead relay sent and never recorded is among these (the live relays'
            # are too): nothing else may reach the sandbox twice.
            held_at_kill = in_flight(pg_url)
            time.sleep(1)
            relays[1] = start_relay(config, tmp_path / "relay1-again.log", ports[1])
            wait_for(lambda: load.count() >= TOTAL or None, "the rest of the load", 180)
        finally:
            load.stop()
        expected = set(load.acked)
        try:
            await_delivery(tmp_path, expected)
            wait_for(
                lambda: queue_stats(relays[0])["deliveries"]["in_flight"] == 0 or None,
                "no work left in flight",
                30,
            )
            stats = queue_stats(relays[2])  # every relay sees the one shared queue
        finally:
            for relay in relays:
                relay.stop()
        duplicates = sandbox_stats(box.url)["duplicates"] - before["duplicates"]
        report(
            "scale (3 relays, 1 SIGKILLed and restarted)",
            acknowledged=len(expected),
            killed_after=killed_at,
            in_flight_at_kill=held_at_kill,
            delivered=len(expected & delivered_ids(tmp_path / "sandbox.db")),
            lost=0,
            duplicates=duplicates,
            answers=dict(load.answers),
        )
        assert len(expected) >= TOTAL
        assert stats["events"]["received"] >= len(expected)
        assert stats["deliveries"]["delivered"] == stats["events"]["received"]
        # Only what the killed relay had in flight may be sent twice.
        assert duplicates <= held_at_kill


@pytest.fixture
def own_postgres() -> Any:
    """A cluster of its own: this test stops and restarts it."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with running_postgres() as server:
        yield server


def test_postgresql_restarting_under_load_loses_nothing(
    tmp_path: Path, own_postgres: PostgresServer
) -> None:
    # pool_timeout: how long a request waits for the database before its 503.
    database = own_postgres.create_database("relay") + "?pool_timeout=1"
    with sandbox(tmp_path) as box:
        config = relay_config(tmp_path, box.url, database, lease=OUTAGE_LEASE)
        relays = [start_relay(config, tmp_path / f"relay{i}.log") for i in range(2)]
        before = sandbox_stats(box.url)
        load = Load([relay.url for relay in relays], threads=4)
        try:
            load.start()
            wait_for(lambda: load.count() >= TOTAL // 2 or None, "half the load", 120)
            held_before_stop = in_flight(own_postgres.url("relay"))
            own_postgres.stop("fast")
            stopped_at = load.count()
            down_at = time.monotonic()
            health = httpx.get(f"{relays[0].url}/health", timeout=10)
            assert (health.status_code, health.json()) == (
                503,
                {"status": "degraded", "database": "down", "reasons": ["database down"]},
            )
            refused = httpx.post(
                f"{relays[1].url}/v1/batch", json=batch_body(99, 0), auth=(WRITE_KEY, "")
            )
            assert refused.status_code == 503  # the SDK keeps it and retries
            time.sleep(max(0.0, 3 - (time.monotonic() - down_at)))
            own_postgres.start()
            wait_for(
                lambda: (
                    all(httpx.get(f"{r.url}/health", timeout=10).status_code == 200 for r in relays)
                    or None
                ),
                "/health to say the database is back",
                60,
            )
            wait_for(lambda: load.count() >= TOTAL or None, "the load after the restart", 180)
        finally:
            load.stop()
        expected = set(load.acked)
        try:
            await_delivery(tmp_path, expected)
        finally:
            for relay in relays:
                relay.stop()
        duplicates = sandbox_stats(box.url)["duplicates"] - before["duplicates"]
        report(
            "restart (2 relays, PostgreSQL down ~3 s)",
            acknowledged=len(expected),
            stopped_after=stopped_at,
            in_flight_before_stop=held_before_stop,
            delivered=len(expected & delivered_ids(tmp_path / "sandbox.db")),
            lost=0,
            duplicates=duplicates,
            answers=dict(load.answers),
        )
        assert load.answers[503] > 0  # the load did meet the outage
        assert len(expected) >= TOTAL
        # Every request sent during the outage had its outcome kept and recorded once the
        # database was back, within the lease: nothing was sent twice.
        assert duplicates == 0, (duplicates, held_before_stop)
