"""Ingest throughput: events a second the relay accepts (answers 200) on loopback.

Starts a sandbox and a relay (`serve --config`, SQLite, delivery workers running)
as real processes, then posts for a fixed time from one asyncio client with
several connections. Prints machine info and the figures as JSON.

    .venv/bin/python bench/bench_ingest.py                 # batches of 100 to /v1/batch
    .venv/bin/python bench/bench_ingest.py --batch 1       # one event a request, /v1/track
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import machine_info

from tests.e2e.stack import WRITE_KEY, relay, sandbox, write_config

# A short timeout, so that with --ingest-only the relay stops quickly at the end.
BENCH_DELIVERY = {"backoff_base": 0.05, "backoff_max": 0.5, "timeout": 2}


def event(worker: int, n: int, i: int) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": f"bench-{worker}",
        "event": "Bench Event",
        "messageId": f"bench-{worker}-{n}-{i}-{time.monotonic_ns()}",
        "properties": {"kameleoonVisitorCode": f"bench-{worker}", "n": n, "price": 9.99},
        "context": {"library": {"name": "bench", "version": "1"}},
    }


async def load(url: str, batch: int, concurrency: int, seconds: float) -> dict[str, Any]:
    path = "/v1/batch" if batch > 1 else "/v1/track"
    accepted = requests = errors = 0
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(index: int, client: httpx.AsyncClient) -> None:
        nonlocal accepted, requests, errors
        n = 0
        while time.monotonic() < deadline:
            events = [event(index, n, i) for i in range(batch)]
            body = orjson.dumps({"batch": events} if batch > 1 else events[0])
            n += 1
            started = time.perf_counter()
            answer = await client.post(path, content=body)
            latencies.append(time.perf_counter() - started)
            requests += 1
            if answer.status_code == 200:
                accepted += batch
            else:
                errors += 1

    async with httpx.AsyncClient(
        base_url=url, auth=(WRITE_KEY, ""), limits=limits, timeout=30,
        headers={"Content-Type": "application/json"},
    ) as client:  # fmt: skip
        started = time.monotonic()
        await asyncio.gather(*(worker(i, client) for i in range(concurrency)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "mode": path,
        "batch": batch,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "requests": requests,
        "errors": errors,
        "events_accepted": accepted,
        "events_per_second": round(accepted / elapsed),
        "requests_per_second": round(requests / elapsed),
        "latency_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 1)
        if latencies
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=100, help="events a request (1: /v1/track)")
    parser.add_argument("--concurrency", type=int, default=16, help="parallel connections")
    parser.add_argument("--seconds", type=float, default=10, help="how long to post")
    parser.add_argument("--warmup", type=float, default=2, help="seconds posted before measuring")
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="slow the sandbox down (60 s a request) so delivery takes no CPU from ingest",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        slow = ["--latency-ms", "60000"] if args.ingest_only else []
        with (
            sandbox(directory, *slow) as box,
            relay(write_config(directory, box.url, delivery=BENCH_DELIVERY), directory) as r,
        ):
            asyncio.run(load(r.url, args.batch, args.concurrency, args.warmup))
            result = asyncio.run(load(r.url, args.batch, args.concurrency, args.seconds))
            stats = httpx.get(f"{r.url}/api/stats").json()
    report = {
        "machine": machine_info(),
        "delivery": "starved (--ingest-only)" if args.ingest_only else "running",
        "result": result,
        "relay_stats": stats["events"],
    }
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
