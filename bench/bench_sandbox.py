"""Requests per second the sandbox holds on this machine (it is our delivery benchmarks' target).

    .venv/bin/python bench/bench_sandbox.py                  # starts a sandbox, in-memory state
    .venv/bin/python bench/bench_sandbox.py --db /tmp/sb.db  # ... with a SQLite file
    .venv/bin/python bench/bench_sandbox.py --url http://127.0.0.1:8091   # an existing sandbox

The load is `POST /segmentio` track events with unique messageIds over 500 visitors,
from `wrk` when installed (apt-get install wrk) or concurrent httpx otherwise. The
load generator shares the machine with the server, so the figure is conservative.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import orjson
from machine import describe

API_KEY = base64.b64encode(b'{"id":"demo","secret":"demo"}').decode()
SITECODE = "demosite01"
HEADERS = {
    "authorization": f"Basic {API_KEY}",
    "x-segment-settings": SITECODE,
    "content-type": "application/json",
}
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["authorization"] = "Basic %(key)s"
wrk.headers["x-segment-settings"] = "%(site)s"
wrk.headers["content-type"] = "application/json"
local n = 0
local run = math.random(1e9)
request = function()
  n = n + 1
  local v = n %% 500
  local body = '{"type":"track","event":"Order Completed","userId":"u' .. v ..
    '","messageId":"w' .. run .. '-' .. n .. '","properties":{"kameleoonVisitorCode":"v' .. v ..
    '","revenue":10},"timestamp":"2024-01-01T00:00:00Z","context":{"library":{"name":"bench"}}}'
  return wrk.format(nil, "/segmentio", nil, body)
end
"""


@contextlib.contextmanager
def sandbox(db: str | None) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [sys.executable, "-m", "kameleoon_relay", "sandbox", "--port", str(port)]
    proc = subprocess.Popen([*args, *(["--db", db] if db else [])], stdout=subprocess.DEVNULL)
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
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def run_wrk(url: str, seconds: float, connections: int) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"key": API_KEY, "site": SITECODE})
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    print(out.rstrip())
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rate, int(errors.group(1)) if errors else 0


async def _httpx_load(url: str, seconds: float, connections: int) -> tuple[float, Counter]:
    statuses: Counter = Counter()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(w: int) -> None:
            n = 0
            while time.monotonic() < deadline:
                n += 1
                body = {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": f"u{n % 500}",
                    "messageId": f"h{w}-{n}-{time.time_ns()}",
                    "properties": {"kameleoonVisitorCode": f"v{n % 500}", "revenue": 10},
                    "timestamp": "2024-01-01T00:00:00Z",
                    "context": {"library": {"name": "bench"}},
                }
                response = await client.post(
                    "/segmentio", content=orjson.dumps(body), headers=HEADERS
                )
                statuses[response.status_code] += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(w) for w in range(connections)))
        elapsed = time.monotonic() - started
    return sum(statuses.values()) / elapsed, statuses


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--url", help="an already running sandbox (default: start one)")
    parser.add_argument("--db", help="SQLite file for a started sandbox (default: memory)")
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "httpx"

    print(f"machine: {describe()}")
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(sandbox(args.db))
        before = httpx.get(url + "/api/stats").json()["accepted"]
        if tool == "wrk":
            rate, errors = run_wrk(url, args.seconds, args.connections)
        else:
            rate, statuses = asyncio.run(_httpx_load(url, args.seconds, args.connections))
            errors = sum(n for status, n in statuses.items() if status != 200)
        accepted = httpx.get(url + "/api/stats").json()["accepted"] - before
    state = "memory" if not args.db and not args.url else (args.db or "external")
    print(
        f"sandbox POST /segmentio: {rate:,.0f} requests/s "
        f"({tool}, {args.connections} connections, {args.seconds:g} s, state={state}); "
        f"accepted {accepted:,}, non-2xx {errors}"
    )


if __name__ == "__main__":
    main()
