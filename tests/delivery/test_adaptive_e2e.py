"""Adaptive delivery against a real sandbox process, through a real relay process."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.e2e.stack import WRITE_KEY, relay, sandbox, wait_for, write_config


def post_events(relay_url: str, count: int, prefix: str) -> None:
    with httpx.Client(auth=(WRITE_KEY, ""), timeout=30) as client:
        for start in range(0, count, 100):
            batch = [
                {
                    "type": "track",
                    "event": "Adaptive",
                    "userId": f"{prefix}-user-{n % 50}",
                    "messageId": f"{prefix}-{n}",
                }
                for n in range(start, min(count, start + 100))
            ]
            assert client.post(f"{relay_url}/v1/batch", json={"batch": batch}).status_code == 200


def stats(sandbox_url: str) -> dict:
    return httpx.get(f"{sandbox_url}/api/stats", timeout=10).json()


def gauge(relay_url: str, name: str) -> float:
    text = httpx.get(f"{relay_url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(f"kameleoon_relay_delivery_{name}{{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_429_pauses_the_whole_destination(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        faults = {"rate_limit_rate": 1.0, "retry_after": 4}
        assert httpx.post(f"{box.url}/api/faults", json=faults).status_code == 200
        config = write_config(tmp_path, box.url, delivery={"processes": 0})
        with relay(config, tmp_path) as r:
            post_events(r.url, 60, "pause")
            wait_for(lambda: stats(box.url)["faults"]["rate_limit"] >= 1, "a 429")
            first = stats(box.url)["received"]
            paused = gauge(r.url, "paused_until_seconds")
            time.sleep(2.5)
            # Only what was already in flight when the 429 came (the initial limit, 16).
            assert stats(box.url)["received"] - first <= 16
            assert paused == 0 or paused > time.time()  # the gauge says until when
            assert httpx.delete(f"{box.url}/api/faults").status_code == 200
            wait_for(lambda: stats(box.url)["accepted"] >= 60, "every event", timeout=60)


def test_a_rate_limited_endpoint_sees_few_429s_with_defaults(tmp_path: Path) -> None:
    # The sandbox lets 40 requests/s through and answers 429 + Retry-After: 1 above.
    with sandbox(tmp_path, "--rate-limit", "40/s") as box:
        config = write_config(tmp_path, box.url)
        with relay(config, tmp_path) as r:
            started = time.monotonic()
            post_events(r.url, 400, "limited")
            wait_for(lambda: stats(box.url)["accepted"] >= 400, "every event", timeout=90)
            seconds = time.monotonic() - started
        counts = stats(box.url)
        limited = counts["faults"]["rate_limit"]
        # A 429 pauses the destination and teaches its rate: few 429s, the limit used.
        assert limited <= 0.1 * counts["received"], counts
        assert seconds < 400 / 40 * 2, seconds


def test_three_delivery_processes_share_one_rate_limit(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url, delivery={"processes": 3, "rate_limit": "40/s"})
        with relay(config, tmp_path) as r:
            post_events(r.url, 240, "shared")
            wait_for(lambda: stats(box.url)["accepted"] >= 20, "delivery to start")
            first, started = stats(box.url)["accepted"], time.monotonic()
            wait_for(lambda: stats(box.url)["accepted"] >= 240, "every event", timeout=60)
            rate = (240 - first) / (time.monotonic() - started)
        # 40/s in all, not 3 x 40/s (a tenth of a second's reservations may be lost).
        assert 25 <= rate <= 40 * 1.15, rate
