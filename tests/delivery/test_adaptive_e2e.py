"""Adaptive delivery against a real sandbox process, through a real relay process."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.cli.test_operator_errors import CLI
from tests.e2e.stack import WRITE_KEY, post_batches, relay, sandbox, wait_for, write_config


def post_events(relay_url: str, count: int, prefix: str) -> None:
    events = [
        {
            "type": "track",
            "event": "Adaptive",
            "userId": f"{prefix}-user-{n % 50}",
            "messageId": f"{prefix}-{n}",
        }
        for n in range(count)
    ]
    post_batches(relay_url, events, 100)


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


class PacedLoad:
    """Events posted at `rate` a second from a thread (20 a batch) until `stop()`."""

    def __init__(self, relay_url: str, rate: float) -> None:
        self.relay_url, self.rate = relay_url, rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PacedLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        batch, number, started = 20, 0, time.monotonic()
        with httpx.Client(auth=(WRITE_KEY, ""), timeout=30) as client:
            while not self._stop.is_set():
                events = [
                    {"type": "track", "event": "Step", "userId": f"step-{(number + i) % 97}",
                     "messageId": f"step-{number + i}"}
                    for i in range(batch)
                ]  # fmt: skip
                client.post(f"{self.relay_url}/v1/batch", json={"batch": events})
                number += batch
                self._stop.wait(max(0.0, started + number / self.rate - time.monotonic()))


def trace_phase(relay_url: str, sandbox_url: str, seconds: float) -> list[tuple[float, int]]:
    """(limit, delivered so far) every half second for `seconds`."""
    points = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        points.append((gauge(relay_url, "concurrency_limit"), stats(sandbox_url)["accepted"]))
    return points


def test_the_limit_follows_a_latency_step_both_ways(tmp_path: Path) -> None:
    # 200 events a second: 4 in flight 20 ms away, 60 in flight 300 ms away.
    with sandbox(tmp_path, "--latency-ms", "20") as box:
        config = write_config(tmp_path, box.url)
        with relay(config, tmp_path) as r, PacedLoad(r.url, 200):
            wait_for(lambda: stats(box.url)["accepted"] > 0, "delivery to start")
            near = trace_phase(r.url, box.url, 6)
            faults = {"latency_ms": 300}
            assert httpx.patch(f"{box.url}/api/faults", json=faults).status_code == 200
            far = trace_phase(r.url, box.url, 10)
            assert httpx.patch(f"{box.url}/api/faults", json={"latency_ms": 20}).status_code == 200
            back = trace_phase(r.url, box.url, 10)
            print("limit trace (0.5 s apart):", [p[0] for p in near + far + back])
            # status and the dashboard show the live limit.
            shown = subprocess.run(
                [*CLI, "status", "--config", str(config), "--relay", r.url],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert "Delivery (live" in shown.stdout and "kameleoon" in shown.stdout, shown
            with httpx.Client(base_url=r.url, timeout=10) as browser:
                browser.get("/", headers={"accept": "text/html"})
                overview = browser.get("/dashboard/api/overview").json()
            assert overview["delivery"]["kameleoon"]["limit"] >= 1
        before = near[-1][0]
        peak = max(p[0] for p in far)
        # 300 ms away: the limit rises to what 200/s needs (60 in flight) within 10 s,
        # and delivery keeps up with the load (a fixed 16 would do 53/s at most).
        assert peak >= 48 and peak >= 2 * before, (before, peak)
        assert (far[-1][1] - far[len(far) // 2][1]) / (0.5 * (len(far) - 1 - len(far) // 2)) > 120
        # Back to 20 ms: within 10 s the limit comes down to what is used again.
        assert back[-1][0] <= peak / 2, (peak, back)
