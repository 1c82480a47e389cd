"""Delivery from far away: the Data API destination against Kameleoon (Actions).

    .venv/bin/python bench/bench_data_api.py              # 20,000 and 1,600 events
    .venv/bin/python bench/bench_data_api.py --quick      # 4,000 and 480
    .venv/bin/python bench/bench_data_api.py --json out.json

A sandbox process answers 100 ms after each tracking request (its `latency_ms`
fault: Kameleoon far away). A queued backlog of the same track events (one goal
conversion and one custom data line each) is drained by the dispatcher, in this
process, over a SQLite store, once by a `kameleoon-data-api` destination (batches
of up to 500 events, OAuth) and once by a `kameleoon-actions` destination, at the
same `delivery.concurrency` (16), over 5,000 users (per-user order applies). Each
figure is events over the time from the wake-up to the last outcome recorded. The JSON keys are
`drain_data_api_far_events_per_s`, `drain_actions_far_events_per_s` and their ratio
`data_api_over_actions_far` (the issue's target: 10 or more).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
from machine import describe

from kameleoon_relay.config.loader import parse_config
from kameleoon_relay.delivery import Dispatcher
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store import open_store
from kameleoon_relay.store.models import EventRecord

LATENCY_MS = 100
CONCURRENCY = 16
USERS = 5000  # distinct users: per-user order holds a user's next event until the last is sent
SITECODE = "demosite01"
API_KEY = base64.b64encode(b'{"id":"demo","secret":"demo"}').decode()


@contextlib.contextmanager
def sandbox(directory: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [sys.executable, "-m", "kameleoon_relay", "sandbox", "--port", str(port)]
    db = ["--db", str(directory / "sandbox.db")]
    proc = subprocess.Popen([*args, *db], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/api/stats", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the sandbox did not start") from None
                time.sleep(0.1)
        httpx.post(url + "/api/faults", json={"latency_ms": LATENCY_MS}).raise_for_status()
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def destination(kind: str, url: str) -> dict[str, Any]:
    if kind == "kameleoon-actions":
        return {
            "name": "far",
            "type": kind,
            "endpoint": f"{url}/segmentio",
            "settings": {"apiKey": API_KEY, "sitecode": SITECODE},
        }
    return {
        "name": "far",
        "type": kind,
        "endpoint": url,
        "token_url": f"{url}/oauth/token",
        "settings": {"clientId": "demo", "clientSecret": "demo", "sitecode": SITECODE},
        "goals": {"Order Completed": 424242},
        "custom_data": {"plan": 3},
        "batch": {"max_events": 500, "max_bytes": 2_000_000, "max_wait": "100ms"},
    }


def records(n: int) -> list[EventRecord]:
    run = uuid.uuid4().hex[:8]
    now = time.time()
    made = []
    for i in range(n):
        event = {
            "type": "track",
            "event": "Order Completed",
            "userId": f"u{i % USERS}",
            "messageId": f"{run}-{i}",
            "timestamp": "2024-05-01T12:00:00.000Z",
            "properties": {"kameleoonVisitorCode": f"v{i % USERS}", "revenue": 10, "plan": "pro"},
        }
        made.append(
            EventRecord(
                message_id=f"{run}-{i}",
                source="web",
                body=orjson.dumps(event),
                received_at=now,
                user_id=event["userId"],
                user_key=event["userId"],  # as ingest keys it: per-user order applies
                destinations=("far",),
            )
        )
    return made


async def drain(kind: str, url: str, n: int, directory: Path) -> float:
    config = parse_config(
        {
            "sources": [{"name": "web", "write_key": "wk"}],
            "destinations": [destination(kind, url)],
            "database": f"sqlite:///{directory / (kind + '.db')}",
            "delivery": {"concurrency": CONCURRENCY, "timeout": 10},
        },
        {},
    )
    store = open_store(config.database, dedupe_window=86400)
    await store.open()
    try:
        for start in range(0, n, 1000):
            result = await store.ingest(records(min(1000, n - start)))
            assert result.accepted == min(1000, n - start), result
        pipeline = Pipeline(config)
        dispatcher = Dispatcher(store, lambda: pipeline, config.delivery)
        stop = asyncio.Event()
        started = time.monotonic()
        task = asyncio.create_task(dispatcher.run(stop))
        dispatcher.wake()
        while True:
            await asyncio.sleep(0.25)
            if time.monotonic() - started > 600:
                raise SystemExit(f"{kind}: not drained within 600 s")
            deliveries = (await store.stats())["deliveries"]
            if deliveries["delivered"] + deliveries["failed"] + deliveries["dead"] >= n:
                break
        seconds = time.monotonic() - started
        stop.set()
        await task
        assert deliveries["delivered"] == n, deliveries
        return n / seconds
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    data_api_events, actions_events = (4000, 480) if options.quick else (20_000, 1600)
    with tempfile.TemporaryDirectory() as folder, sandbox(Path(folder)) as url:
        results: dict[str, Any] = {
            "machine": describe(),
            "latency_ms": LATENCY_MS,
            "concurrency": CONCURRENCY,
        }
        data_api = asyncio.run(drain("kameleoon-data-api", url, data_api_events, Path(folder)))
        actions = asyncio.run(drain("kameleoon-actions", url, actions_events, Path(folder)))
    results["drain_data_api_far_events_per_s"] = round(data_api, 1)
    results["drain_actions_far_events_per_s"] = round(actions, 1)
    results["data_api_over_actions_far"] = round(data_api / actions, 2)
    results["events"] = {"data_api": data_api_events, "actions": actions_events}
    print(f"machine: {results['machine']}")
    print(f"{LATENCY_MS} ms away, delivery.concurrency {CONCURRENCY}:")
    print(f"  kameleoon-data-api  {data_api:10,.1f} events/s  ({data_api_events} events)")
    print(f"  kameleoon-actions   {actions:10,.1f} events/s  ({actions_events} events)")
    print(f"  ratio               {data_api / actions:10.2f}x  (target >= 10x)")
    if options.json:
        options.json.write_text(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
