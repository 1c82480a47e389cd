"""Queue and delivery throughput against a local sandbox subprocess.

    .venv/bin/python bench/bench_delivery.py [--events 5000] [--concurrency 16]
    .venv/bin/python bench/bench_delivery.py --database postgresql --processes 1 2 3

Measures, on this machine: durable ingest (batches of 100, and one event per call as
/v1/track does, where group commit matters) with synchronous=FULL and NORMAL; then
events/s delivered to the sandbox over HTTP by the Dispatcher.

`--database postgresql` starts a throwaway PostgreSQL (fsync on, as in production) and
measures ingest and delivery there, `--database postgresql://...` uses yours (a fresh
database, please); `--processes 1 2 3` runs the delivery with that many relay
processes sharing the one queue (each a Dispatcher in its own process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine import describe  # noqa: E402

from kameleoon_relay.config.model import DeliverySettings  # noqa: E402
from kameleoon_relay.delivery import Dispatcher  # noqa: E402
from kameleoon_relay.pipeline import Pipeline  # noqa: E402
from kameleoon_relay.store import SQLiteStore, Store, open_store  # noqa: E402
from tests.helpers.postgres import running_postgres  # noqa: E402
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


# -- the queue shared by processes (--database, --processes) --------------------------------


def demo_pipeline(sandbox_url: str) -> Pipeline:
    return Pipeline(
        config_for(
            {"kameleoon": f"{sandbox_url}/segmentio"}, api_key=DEMO_API_KEY, sitecode=DEMO_SITECODE
        )
    )


async def worker(url: str, sandbox_url: str, concurrency: int) -> None:
    """One relay's delivery side: says `ready`, starts at `go`, stops at end of input."""
    store = open_store(url, DEDUPE_WINDOW)
    await store.open(recover=False)
    pipeline = demo_pipeline(sandbox_url)
    dispatcher = Dispatcher(store, lambda: pipeline, DeliverySettings(concurrency=concurrency))
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    dispatcher.wake()
    await asyncio.to_thread(sys.stdin.readline)
    stop.set()
    await task
    await store.close()


async def bench_ingest_store(store: Store, label: str, n: int) -> None:
    items = events(n)
    start = time.perf_counter()
    for i in range(0, n, 100):
        await store.ingest(items[i : i + 100])
    batched = n / (time.perf_counter() - start)
    sem = asyncio.Semaphore(64)

    async def one(entry: object) -> None:
        async with sem:
            await store.ingest([entry])  # type: ignore[list-item]

    start = time.perf_counter()
    await asyncio.gather(*(one(entry) for entry in events(n)))
    single = n / (time.perf_counter() - start)
    print(
        f"ingest {label:<10} batches of 100: {batched:8.0f} events/s | "
        f"1 event per call, 64 concurrent: {single:7.0f} events/s"
    )


async def bench_processes(
    url: str, label: str, sandbox_url: str, n: int, concurrency: int, processes: int
) -> float:
    """Events/s delivered by `processes` relay processes sharing the queue at `url`."""
    store = open_store(url, DEDUPE_WINDOW)
    await store.open(recover=False)
    items = events(n)
    for i in range(0, n, 500):
        await store.ingest(items[i : i + 500])
    target = (await store.stats())["deliveries"]["delivered"] + n
    command = [sys.executable, __file__, "--worker", url, sandbox_url, str(concurrency)]
    workers = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    try:
        for proc in workers:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        start = time.perf_counter()
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        while (await store.stats())["deliveries"]["delivered"] < target:
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
    finally:
        for proc in workers:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
        for proc in workers:
            proc.wait(60)
        await store.close()
    rate = n / elapsed
    print(
        f"delivery {label:<10} {processes} process(es), concurrency={concurrency:<3} each: "
        f"{n} events in {elapsed:.2f}s = {rate:7.0f} events/s delivered"
    )
    return rate


@contextlib.contextmanager
def databases(choice: str, tmp: Path) -> Iterator[tuple[str, Iterator[str]]]:
    """(label, fresh database URLs) for `--database`."""
    if choice == "sqlite":
        yield "sqlite", (f"sqlite:///{tmp / f'queue-{i}.db'}" for i in range(10**6))
    elif choice == "postgresql":
        with running_postgres(fast=False) as server:
            names = (f"bench_{i}" for i in range(10**6))
            yield "postgresql", (server.create_database(name) for name in names)
    else:
        yield "postgresql", iter(lambda: choice, None)


async def shared(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        with databases(args.database, tmp) as (label, urls):
            if label == "sqlite" and args.processes != [1]:
                raise SystemExit("SQLite serves one relay process per file: --processes 1")
            store = open_store(next(urls), DEDUPE_WINDOW)
            await store.open(recover=False)
            await bench_ingest_store(store, label, args.events)
            await store.close()
            with running(["sandbox"], tmp / "sandbox.log", health_path="/api/stats") as box:
                for processes in args.processes:
                    for concurrency in args.concurrency:
                        url = next(urls)
                        await bench_processes(
                            url, label, box.url, args.events, concurrency, processes
                        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument(
        "--database", help="sqlite, postgresql (a throwaway server) or a postgresql:// URL"
    )
    parser.add_argument("--processes", type=int, nargs="+", default=[1])
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, sandbox_url, concurrency = args.worker
        await worker(url, sandbox_url, int(concurrency))
        return
    print(describe())
    if args.database is not None:
        await shared(args)
        return
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
