"""SIGKILL the relay while Data API batches are in flight, restart it: every acknowledged
event reaches the sandbox, and what is sent twice carries the same nonces (Kameleoon,
like the sandbox, counts it once)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx

from tests.e2e.stack import WRITE_KEY, relay, sandbox, wait_for, write_config
from tests.helpers.processes import start_server

THREADS = 3
BATCH = 20
KILL_AFTER_ACKED = 600
MOST_ACKED = 2000  # then the load stops: the sandbox's event log keeps the last 10,000 lines
MAX_EVENTS = 50
CONCURRENCY = 4


def batch_body(thread: int, number: int) -> dict:
    return {
        "batch": [
            {
                "type": "track",
                "userId": f"kill-{thread}-{number}-{i}",
                "event": "Order Completed",
                "properties": {"kameleoonVisitorCode": f"kill-{thread}-{number}-{i}", "revenue": 1},
            }
            for i in range(BATCH)
        ]
    }


def sandbox_lines(db: Path) -> list[tuple[str, str, str]]:
    """(visitor, nonce, outcome) of every Data API line the sandbox logged."""
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT visitor, message_id, outcome FROM events WHERE sender = 'data-api'"
        ).fetchall()


def test_a_sigkill_mid_batch_loses_no_acknowledged_event(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        # Far away: batches stay in flight long enough for the kill to find some.
        httpx.post(f"{box.url}/api/faults", json={"latency_ms": 300}).raise_for_status()
        direct = {
            "name": "direct",
            "type": "kameleoon-data-api",
            "endpoint": box.url,
            "token_url": f"{box.url}/oauth/token",
            "settings": {"clientId": "demo", "clientSecret": "demo", "sitecode": "demosite01"},
            "goals": {"Order Completed": 424242},
            "batch": {"max_events": MAX_EVENTS, "max_wait": 0},
        }
        config = write_config(
            tmp_path,
            box.url,
            destinations=[direct],
            delivery={"concurrency": CONCURRENCY, "backoff_base": 0.05, "backoff_max": 0.5},
        )
        server = start_server(
            ["serve", "--config", str(config)], tmp_path / "relay.log", health_path="/health"
        )
        acked: list[str] = []
        lock = threading.Lock()
        enough = threading.Event()
        stop = threading.Event()

        def load(thread: int) -> None:
            with httpx.Client(auth=(WRITE_KEY, ""), timeout=10) as client:
                number = 0
                while not stop.is_set():
                    with lock:
                        if len(acked) >= MOST_ACKED:
                            return
                    body = batch_body(thread, number)
                    number += 1
                    try:
                        answer = client.post(f"{server.url}/v1/batch", json=body)
                    except httpx.TransportError:
                        return
                    if answer.status_code == 200:
                        with lock:
                            acked.extend(
                                e["properties"]["kameleoonVisitorCode"] for e in body["batch"]
                            )
                            if len(acked) >= KILL_AFTER_ACKED:
                                enough.set()

        workers = [threading.Thread(target=load, args=(t,)) for t in range(THREADS)]
        try:
            for worker in workers:
                worker.start()
            assert enough.wait(120), "the load never got going"
            # Some lines have reached the sandbox: batches are going out.
            wait_for(lambda: sandbox_lines(tmp_path / "sandbox.db"), "a first batch", 60)
            server.proc.kill()  # SIGKILL: no shutdown, no flush
            server.proc.wait(10)
        finally:
            stop.set()
            for worker in workers:
                worker.join(30)
            server.stop()
        with lock:
            expected = set(acked)
        assert len(expected) >= KILL_AFTER_ACKED

        with relay(config, tmp_path):

            def missing() -> set[str]:
                rows = sandbox_lines(tmp_path / "sandbox.db")
                return expected - {visitor for visitor, _, outcome in rows if outcome == "accepted"}

            wait_for(lambda: not missing() or None, "every acknowledged event", timeout=300)
        rows = sandbox_lines(tmp_path / "sandbox.db")
    accepted = [visitor for visitor, _, outcome in rows if outcome == "accepted"]
    # One line an event, accepted once: a resent event came with the nonce it had.
    assert len(accepted) == len(set(accepted))
    nonces = {nonce for _, nonce, outcome in rows if outcome == "accepted"}
    duplicates = [(visitor, nonce) for visitor, nonce, outcome in rows if outcome == "duplicate"]
    assert all(nonce in nonces for _, nonce in duplicates)
    # Only what was in flight at the kill is sent again.
    assert len(duplicates) <= CONCURRENCY * MAX_EVENTS
