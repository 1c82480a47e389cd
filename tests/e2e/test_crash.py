"""SIGKILL the relay in the middle of a load, restart it: every event that got a 200
is delivered (a 200 means durably stored)."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from tests.e2e.stack import WRITE_KEY, goals, relay, sandbox, wait_for, write_config
from tests.helpers.processes import start_server

THREADS = 4
BATCH = 10
KILL_AFTER_ACKED_BATCHES = 40


def batch_body(thread: int, number: int) -> dict:
    return {
        "batch": [
            {
                "type": "track",
                "userId": f"crash-user-{thread}",
                "event": f"Crash t{thread} b{number} e{i}",
                "properties": {"kameleoonVisitorCode": f"crash-{thread}"},
            }
            for i in range(BATCH)
        ]
    }


def test_every_acknowledged_event_survives_a_sigkill(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url)
        server = start_server(
            ["serve", "--config", str(config)], tmp_path / "relay.log", health_path="/health"
        )
        acked: list[str] = []
        failures = [0] * THREADS
        lock = threading.Lock()
        enough = threading.Event()
        stop = threading.Event()

        def load(thread: int) -> None:
            with httpx.Client(auth=(WRITE_KEY, ""), timeout=10) as client:
                number = 0
                while not stop.is_set():
                    body = batch_body(thread, number)
                    number += 1
                    try:
                        answer = client.post(f"{server.url}/v1/batch", json=body)
                    except httpx.TransportError:
                        failures[thread] += 1
                        continue
                    if answer.status_code == 200:
                        with lock:
                            acked.extend(event["event"] for event in body["batch"])
                            if len(acked) >= KILL_AFTER_ACKED_BATCHES * BATCH:
                                enough.set()

        workers = [threading.Thread(target=load, args=(t,)) for t in range(THREADS)]
        try:
            for worker in workers:
                worker.start()
            assert enough.wait(120), "the load never got going"
            server.proc.kill()  # SIGKILL: no shutdown, no flush
            server.proc.wait(10)
            # Every client saw the relay die while it was still sending.
            wait_for(lambda: all(failures), "every load thread to hit the dead relay")
        finally:
            stop.set()
            for worker in workers:
                worker.join(30)
            server.stop()
        with lock:
            expected = set(acked)
        assert len(expected) >= KILL_AFTER_ACKED_BATCHES * BATCH

        with relay(config, tmp_path):

            def missing() -> set[str]:
                seen = goals(box.url)
                return {name for name in expected if f"SegmentIO track - {name}" not in seen}

            wait_for(lambda: not missing() or None, "every acknowledged event", timeout=120)
            assert missing() == set()
