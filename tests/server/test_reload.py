"""Reloads (SIGHUP): coalesced, read off the event loop, no full collection, and the line
saying which configuration is in force is never cut by the log's rate limit."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import yaml

from tests.e2e.stack import SANDBOX_API_KEY, WRITE_KEY, relay, sandbox, wait_for, write_config

# Runs the served app's lifespan (no HTTP: nothing else touches the heap) and counts the
# collector's full passes while 20 SIGHUPs arrive at once.
IN_PROCESS = """
import asyncio, gc, logging, os, signal, sys
from kameleoon_relay.config import load_config
from kameleoon_relay.heap import tune_collector
from kameleoon_relay.server import create_app

path = sys.argv[1]
reloads = []
class Count(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("configuration reloaded"):
            reloads.append(record)
logging.getLogger("kameleoon_relay").addHandler(Count())
logging.getLogger("kameleoon_relay").setLevel("INFO")
app = create_app(load_config(path), loader=lambda: load_config(path))

async def main():
    async with app.router.lifespan_context(app):
        tune_collector()
        full = []
        gc.callbacks.append(
            lambda phase, info: full.append(1)
            if phase == "start" and info["generation"] == 2 else None
        )
        for _ in range(20):
            os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0)  # the signals are handled
        for _ in range(100):
            await asyncio.sleep(0.05)
        print(len(full), len(reloads))

asyncio.run(main())
"""


def test_a_burst_of_sighups_is_coalesced_without_full_collections(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", delivery={"processes": 0})
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    full, reloads = map(int, done.stdout.split())
    # One reload for the first SIGHUP, one more for all that came while it ran.
    assert 1 <= reloads <= 2, done.stdout
    # Before: a full collection (unfreeze, collect, freeze) per reload.
    assert full <= 1, done.stdout


def named_config(path: Path, sandbox_url: str, second: str) -> None:
    """Rewrite the config at `path` with a second destination called `second`."""
    document = yaml.safe_load(path.read_text())
    document["destinations"] = [
        document["destinations"][0],
        {
            "name": second,
            "type": "kameleoon-actions",
            "endpoint": f"{sandbox_url}/segmentio",
            "settings": {"apiKey": SANDBOX_API_KEY, "sitecode": "demosite01"},
        },
    ]
    path.write_text(yaml.safe_dump(document))


def reload_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "configuration reloaded" in line]


def test_every_reload_says_which_configuration_is_in_force(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url)
        with relay(config, tmp_path) as r:
            for number in range(12):  # past the rate limit's 10 lines a minute
                named_config(config, box.url, f"second{number}")
                r.proc.send_signal(signal.SIGHUP)
                wait_for(lambda n=number: len(reload_lines(r.log())) > n, f"reload {number} logged")
            lines = reload_lines(r.log())
            assert len(lines) == 12
            assert "(kameleoon, second11)" in lines[-1]
            assert "suppressed" not in lines[-1]


def test_under_a_sighup_storm_ingest_is_answered_and_the_last_config_wins(
    tmp_path: Path,
) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url)
        with relay(config, tmp_path) as r:
            statuses: Counter = Counter()
            stop = threading.Event()

            def ingest() -> None:
                with httpx.Client(auth=(WRITE_KEY, ""), timeout=10) as client:
                    while not stop.is_set():
                        body = {"type": "track", "event": "Storm", "userId": "storm"}
                        try:
                            statuses[client.post(f"{r.url}/v1/track", json=body).status_code] += 1
                        except httpx.HTTPError as exc:
                            statuses[type(exc).__name__] += 1

            worker = threading.Thread(target=ingest)
            worker.start()
            try:
                for _ in range(10):  # bursts of 10, 100 in 2 s
                    for _ in range(10):
                        r.proc.send_signal(signal.SIGHUP)
                    time.sleep(0.2)
                named_config(config, box.url, "lastone")
                r.proc.send_signal(signal.SIGHUP)
                wait_for(lambda: "(kameleoon, lastone)" in r.log(), "the last config in force", 30)
            finally:
                stop.set()
                worker.join(30)
            assert set(statuses) == {200}, statuses
            assert len(reload_lines(r.log())) < 101  # coalesced
