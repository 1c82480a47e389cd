"""What a reload costs the serving event loop: the longest stall of the loop while
SIGHUPs reload the config, and what the former refreeze (a full collection) cost.

Runs the served app's lifespan in this process (delivery in it: `processes: 0`), with the
heap frozen as `serve` freezes it, and a probe measuring how late a 1 ms timer fires.

    .venv/bin/python bench/bench_reload.py [--reloads 20] [--gap 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from machine import describe  # noqa: E402

from kameleoon_relay.config import load_config  # noqa: E402
from kameleoon_relay.heap import tune_collector  # noqa: E402
from kameleoon_relay.server import create_app  # noqa: E402
from tests.e2e.stack import write_config  # noqa: E402


async def probe(stalls: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        stalls.append(time.perf_counter() - started - 0.001)


def refreeze_ms() -> float:
    """The former per-reload collection, timed on this heap."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return (time.perf_counter() - started) * 1000


async def run(path: Path, reloads: int, gap: float) -> dict:
    app = create_app(load_config(path), loader=lambda: load_config(path))
    async with app.router.lifespan_context(app):
        tune_collector()
        stalls: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(probe(stalls, stop))
        await asyncio.sleep(0.5)
        idle = max(stalls)
        stalls.clear()
        for _ in range(reloads):
            os.kill(os.getpid(), signal.SIGHUP)
            await asyncio.sleep(gap)
        await asyncio.sleep(0.5)
        stop.set()
        await task
        ordered = sorted(stalls)
        return {
            "reloads": reloads,
            "gap_seconds": gap,
            "loop_stall_max_ms_idle": round(idle * 1000, 1),
            "loop_stall_max_ms_reloading": round(ordered[-1] * 1000, 1),
            "loop_stall_p99_ms_reloading": round(ordered[int(len(ordered) * 0.99)] * 1000, 1),
            "former_refreeze_ms": round(refreeze_ms(), 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reloads", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        path = write_config(Path(root), "http://127.0.0.1:9", delivery={"processes": 0})
        figures = asyncio.run(run(path, args.reloads, args.gap))
    print(json.dumps({"machine": describe(), **figures}, indent=2))


if __name__ == "__main__":
    main()
