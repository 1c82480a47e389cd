"""Queue and delivery throughput against a local sandbox subprocess.

    .venv/bin/python bench/bench_delivery.py [--events 5000] [--concurrency 16]

Measures, on this machine: durable ingest (batches of 100, and one event per call as
/v1/track does, where group commit matters) with synchronous=FULL and NORMAL; then
events/s delivered to the sandbox over HTTP by the Dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import describe  # noqa: E402

from kameleoon_relay.config.model import DeliverySettings  # noqa: E402
from kameleoon_relay.delivery import Dispatcher  # noqa: E402
from kameleoon_relay.pipeline import Pipeline  # noqa: E402
from kameleoon_relay.store import SQLiteStore  # noqa: E402
from tests.helpers.processes import running  # noqa: E402
from tests.store.store_factories import (  # noqa: E402
    DEMO_API_KEY,
    DEMO_SITECODE,
    config_for,
    record,
)

DEDUPE_WINDOW = 86400.0


def events(n: int) -> list:
    run = uuid.uuid4().hex[:8]
    return [record(f"{run}-{i}") for i in range(n)]


async def bench_ingest(tmp: Path, n: int, synchronous: str) -> None:
    items = events(n)
    store = SQLiteStore(
        str(tmp / f"ingest-{synchronous}.db"), DEDUPE_WINDOW, synchronous=synchronous
    )
    await store.open()
    start = time.perf_counter()
    for i in range(0, n, 100):
        await store.ingest(items[i : i + 100])
    batched = n / (time.perf_counter() - start)

    singles = events(n)
    commits = store.commits
    start = time.perf_counter()
    # 64 concurrent one-event requests, like many SDKs calling /v1/track at once.
    sem = asyncio.Semaphore(64)

    async def one(entry: object) -> None:
        async with sem:
            await store.ingest([entry])  # type: ignore[list-item]

    await asyncio.gather(*(one(entry) for entry in singles))
    single = n / (time.perf_counter() - start)
    commits = store.commits - commits
    await store.close()
    print(
        f"ingest synchronous={synchronous:<6} batches of 100: {batched:8.0f} events/s | "
        f"1 event per call, 64 concurrent: {single:7.0f} events/s "
        f"({n} calls in {commits} commits)"
    )


async def bench_delivery(tmp: Path, sandbox_url: str, n: int, concurrency: int) -> None:
    store = SQLiteStore(str(tmp / "deliver.db"), DEDUPE_WINDOW)
    await store.open()
    items = events(n)
    for i in range(0, n, 500):
        await store.ingest(items[i : i + 500])
    async with httpx.AsyncClient() as client:
        before = (await client.get(f"{sandbox_url}/api/stats")).json()["accepted"]
    settings = DeliverySettings(concurrency=concurrency, timeout=10)
    pipeline = Pipeline(
        config_for(
            {"kameleoon": f"{sandbox_url}/segmentio"}, api_key=DEMO_API_KEY, sitecode=DEMO_SITECODE
        )
    )
    dispatcher = Dispatcher(store, lambda: pipeline, settings)
    stop = asyncio.Event()
    start = time.perf_counter()
    task = asyncio.create_task(dispatcher.run(stop))
    dispatcher.wake()
    while (await store.stats())["deliveries"]["delivered"] < n:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    stop.set()
    await task
    async with httpx.AsyncClient() as client:
        after = (await client.get(f"{sandbox_url}/api/stats")).json()["accepted"]
    await store.close()
    print(
        f"delivery concurrency={concurrency:<3}: {n} events in {elapsed:.2f}s = "
        f"{n / elapsed:7.0f} events/s delivered (sandbox accepted {after - before})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for synchronous in ("full", "normal"):
            await bench_ingest(tmp, args.events, synchronous)
        with running(["sandbox"], tmp / "sandbox.log", health_path="/api/stats") as sandbox:
            for concurrency in args.concurrency:
                await bench_delivery(tmp, sandbox.url, args.events, concurrency)
                (tmp / "deliver.db").unlink()


if __name__ == "__main__":
    asyncio.run(main())
