"""The database stays the same size under a steady load once retention has passed.

Starts a sandbox and a relay (`retention: 5s`, `dedupe_window: 5s`) as real processes,
posts batches of 100 events at a steady pace, and prints the size of relay.db and its
WAL every few seconds.

    .venv/bin/python bench/bench_retention.py [--seconds 40] [--pace 0.1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine import describe

from tests.e2e.stack import WRITE_KEY, relay, sandbox, write_config


def batch(size: int) -> list[dict]:
    return [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"u{i % 50}",
            "messageId": uuid.uuid4().hex,
            "properties": {"kameleoonVisitorCode": f"vc{i % 50}", "price": 9.99},
        }
        for i in range(size)
    ]


def database_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("relay.db*") if path.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--pace", type=float, default=0.1, help="seconds between batches")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        with sandbox(folder) as box:
            config = write_config(folder, box.url, retention="5s", dedupe_window="5s")
            with relay(config, folder) as served, httpx.Client(timeout=10) as client:
                start, posted, shown = time.monotonic(), 0, -10.0
                while (elapsed := time.monotonic() - start) < args.seconds:
                    answer = client.post(
                        f"{served.url}/v1/batch", json={"batch": batch(100)}, auth=(WRITE_KEY, "")
                    )
                    answer.raise_for_status()
                    posted += 100
                    if elapsed - shown >= 4:
                        shown = elapsed
                        size = database_size(folder) / 1e6
                        print(f"t={elapsed:5.1f}s events={posted:7,} relay.db+wal={size:6.2f} MB")
                    time.sleep(args.pace)


if __name__ == "__main__":
    main()
