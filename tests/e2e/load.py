"""A load of Segment batches spread over several relays, as a load balancer would.

Each batch has fixed messageIds. A batch answered 200 is acknowledged; one that fails
(connection refused, 503) is sent again, same messageIds, to the next relay: what an
SDK behind a load balancer does. Then we can check at the sandbox that every
acknowledged event arrived, and count what arrived twice.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import httpx

from tests.e2e.stack import WRITE_KEY

BATCH = 10


def batch_body(thread: int, number: int) -> dict:
    return {
        "batch": [
            {
                "type": "track",
                "messageId": f"load-{thread}-{number}-{i}",
                "userId": f"load-user-{thread}",
                "event": "Load Test",
                "properties": {"kameleoonVisitorCode": f"load-{thread}"},
            }
            for i in range(BATCH)
        ]
    }


class Load:
    """`threads` clients posting batches round-robin to `urls()` until `stop()`."""

    def __init__(self, urls: list[str], threads: int = 4) -> None:
        self.urls = urls
        self.acked: list[str] = []
        self.answers: Counter[int | str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(t,)) for t in range(threads)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def _run(self, thread: int) -> None:
        targets = itertools.cycle(range(len(self.urls)))
        for _ in range(thread):  # each thread starts on another relay
            next(targets)
        with httpx.Client(auth=(WRITE_KEY, ""), timeout=10) as client:
            for number in itertools.count():
                if self._stop.is_set():
                    return
                body = batch_body(thread, number)
                while not self._stop.is_set():  # until acknowledged, by any relay
                    url = self.urls[next(targets)]
                    try:
                        status: int | str = client.post(f"{url}/v1/batch", json=body).status_code
                    except httpx.TransportError as exc:
                        status = type(exc).__name__
                    with self._lock:
                        self.answers[status] += 1
                        if status == 200:
                            self.acked.extend(e["messageId"] for e in body["batch"])
                            break


def delivered_ids(sandbox_db: Path) -> set[str]:
    """The messageIds the sandbox has received (each counted once)."""
    with sqlite3.connect(f"file:{sandbox_db}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT message_id FROM messages")}
