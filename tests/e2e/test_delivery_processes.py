"""`delivery.processes`: delivery-only processes share the queue beside `serve`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.stack import WRITE_KEY, relay, sandbox, wait_for, write_config
from tests.helpers.processes import Server


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in found.stdout.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def delivered_in_metrics(url: str) -> float:
    """`kameleoon_relay_delivery_attempts_total{outcome="delivered"}`, summed, from /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "kameleoon_relay_delivery_attempts_total"
        and sample.labels.get("outcome") == "delivered"
    )


def test_two_processes_deliver_each_event_once_and_end_with_serve(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url, delivery={"processes": 2, "backoff_base": 0.05})
        with relay(config, tmp_path) as r:
            helpers = wait_for(lambda: children(r.proc.pid) or None, "the helper processes")
            # multiprocessing's resource tracker may be a child too: ours log their start.
            wait_for(lambda: r.log().count("delivery process") >= 2, "two delivery processes")
            events = [
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": f"u{i % 7}",
                    "messageId": uuid.uuid4().hex,
                    "properties": {"kameleoonVisitorCode": f"vc{i % 7}"},
                }
                for i in range(600)
            ]
            for start in range(0, 600, 100):
                answer = httpx.post(
                    f"{r.url}/v1/batch",
                    json={"batch": events[start : start + 100]},
                    auth=(WRITE_KEY, ""),
                    timeout=10,
                )
                assert answer.status_code == 200
            stats = wait_for(
                lambda: (s := httpx.get(f"{box.url}/api/stats").json())["accepted"] >= 600 and s,
                "600 events at the sandbox",
            )
            assert stats["accepted"] == 600 and stats["duplicates"] == 0
            pids = {
                line.split("delivery process ")[1].split()[0]
                for line in r.log().splitlines()
                if "delivery process " in line and " started" in line
            }
            assert len(pids) == 2
            # serve delivers nothing itself; /metrics sums what both processes report.
            wait_for(lambda: delivered_in_metrics(r.url) == 600, "600 delivered in /metrics")
        # serve stopped (SIGTERM): its delivery processes are gone with it.
        time.sleep(0.5)
        assert not any(alive(pid) for pid in helpers)


def test_helpers_end_when_serve_is_killed(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url, delivery={"processes": 2})
        with relay(config, tmp_path) as r:
            wait_for(lambda: "delivery process" in r.log(), "the delivery process")
            helpers = children(r.proc.pid)
            assert helpers
            r.proc.send_signal(signal.SIGKILL)
            r.proc.wait()
            wait_for(lambda: not any(alive(pid) for pid in helpers), "the helpers to end")


def test_zero_processes_delivers_in_serve_itself(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url, delivery={"processes": 0})
        with relay(config, tmp_path) as r:
            answer = httpx.post(
                f"{r.url}/v1/track",
                json={
                    "type": "track",
                    "event": "Order Completed",
                    "userId": "solo",
                    "properties": {"kameleoonVisitorCode": "solo"},
                },
                auth=(WRITE_KEY, ""),
                timeout=10,
            )
            assert answer.status_code == 200
            wait_for(lambda: delivered_in_metrics(r.url) == 1, "1 delivered in /metrics")
            assert "delivery process" not in r.log()
            assert [pid for pid in children(r.proc.pid) if "delivery" in cmdline(pid)] == []


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def delivery_pids(r: Server) -> list[int]:
    """serve's live delivery processes (multiprocessing's resource tracker is one too)."""
    return [pid for pid in children(r.proc.pid) if "spawn_main" in cmdline(pid) and alive(pid)]


def post_events(url: str, tag: str, count: int) -> list[str]:
    ids = [f"{tag}-{i}" for i in range(count)]
    batch = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": f"u{i % 5}",
            "messageId": mid,
            "properties": {"kameleoonVisitorCode": f"vc{i % 5}"},
        }
        for i, mid in enumerate(ids)
    ]
    answer = httpx.post(f"{url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=10)
    assert answer.status_code == 200
    return ids


def accepted(box: Server) -> int:
    return httpx.get(f"{box.url}/api/stats", timeout=10).json()["accepted"]


def test_a_killed_delivery_process_is_restarted_saying_why(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url, delivery={"processes": 1, "backoff_base": 0.05})
        with relay(config, tmp_path) as r:
            first = wait_for(lambda: delivery_pids(r), "the delivery process")
            post_events(r.url, "before", 20)
            wait_for(lambda: delivered_in_metrics(r.url) == 20, "20 delivered in /metrics")
            assert metric(r.url, "kameleoon_relay_delivery_processes_live") == 1
            os.kill(first[0], signal.SIGKILL)
            second = wait_for(
                lambda: [p for p in delivery_pids(r) if p not in first], "a new delivery process"
            )
            assert f"delivery process 1 (pid {first[0]}) was killed by SIGKILL" in r.log()
            post_events(r.url, "after", 20)
            wait_for(lambda: accepted(box) >= 40, "the 20 events sent after the restart")
            assert metric(r.url, "kameleoon_relay_delivery_processes_live") == 1
            assert metric(r.url, "kameleoon_relay_delivery_process_restarts_total") == 1
            # Counters of the dead process are kept: /metrics never goes back.
            wait_for(lambda: delivered_in_metrics(r.url) >= 40, "40 delivered in /metrics")
            assert len(second) == 1


def test_health_is_degraded_while_queued_work_has_no_delivery_process(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url, delivery={"processes": 1, "backoff_base": 0.05})
        with relay(config, tmp_path) as r:
            assert httpx.get(f"{r.url}/health").json() == {"status": "ok", "database": "up"}
            # Killed again as soon as it is back: the restart delay doubles (0.5, 1, 2, 4 s).
            for _ in range(4):
                pid = wait_for(lambda: delivery_pids(r), "a delivery process")[0]
                os.kill(pid, signal.SIGKILL)
                wait_for(lambda p=pid: not alive(p), "its death")
            assert metric(r.url, "kameleoon_relay_delivery_processes_live") == 0
            post_events(r.url, "waiting", 5)
            answer = httpx.get(f"{r.url}/health")
            assert answer.status_code == 503
            assert answer.json() == {
                "status": "degraded",
                "database": "up",
                "reasons": ["no live delivery process for queued work"],
            }
            assert "restarting in 4.0 s" in r.log()
            wait_for(lambda: accepted(box) >= 5, "the queued events, once it is back")
            wait_for(lambda: httpx.get(f"{r.url}/health").status_code == 200, "health ok")


def test_a_stopped_delivery_process_ends_when_serve_is_killed(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url, delivery={"processes": 1})
        with relay(config, tmp_path) as r:
            pid = wait_for(lambda: delivery_pids(r), "the delivery process")[0]
            wait_for(lambda: f"delivery process {pid} started" in r.log(), "it to be running")
            os.kill(pid, signal.SIGSTOP)
            r.proc.send_signal(signal.SIGKILL)
            r.proc.wait()
            try:
                wait_for(lambda: not alive(pid), "the stopped delivery process to end", 10)
            finally:
                with contextlib.suppress(ProcessLookupError):  # never leave one behind
                    os.kill(pid, signal.SIGKILL)
