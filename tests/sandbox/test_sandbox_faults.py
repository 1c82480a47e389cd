"""Every injected fault, seen by a real HTTP client of a real sandbox process."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.helpers.processes import Server
from tests.sandbox.support import (
    DEMO_API_KEY,
    DEMO_SITECODE,
    post_event,
    sandbox_client,
    track,
    unique,
)


@pytest.fixture
def faulty(client: httpx.Client) -> Iterator[httpx.Client]:
    yield client
    assert client.delete("/api/faults").status_code == 200


def set_faults(client: httpx.Client, **settings) -> dict:
    response = client.post("/api/faults", json=settings)
    assert response.status_code == 200, response.text
    return response.json()


def statuses(client: httpx.Client, count: int) -> list[int]:
    return [post_event(client, track("Signed Up", userId="u")).status_code for _ in range(count)]


def test_error_rate_answers_the_chosen_statuses(faulty: httpx.Client) -> None:
    set_faults(faulty, error_rate=1.0, error_statuses=[500, 503], seed=1)
    before = faulty.get("/api/stats").json()
    code = unique("vc")
    response = post_event(
        faulty, track("Order Completed", properties={"kameleoonVisitorCode": code})
    )
    assert response.status_code in (500, 503)
    assert response.json()["error"] == "injected fault: error"
    seen = set(statuses(faulty, 30))
    assert seen == {500, 503}
    after = faulty.get("/api/stats").json()
    assert after["faults"]["error"] == before["faults"]["error"] + 31
    assert after["accepted"] == before["accepted"]  # a faulted event is not processed
    assert faulty.get(f"/api/visitors/{code}").status_code == 404


def test_faults_are_seeded_and_repeatable(faulty: httpx.Client) -> None:
    set_faults(faulty, error_rate=0.3, error_statuses=[503], seed=42)
    first = statuses(faulty, 60)
    set_faults(faulty, error_rate=0.3, error_statuses=[503], seed=42)
    second = statuses(faulty, 60)
    set_faults(faulty, error_rate=0.3, error_statuses=[503], seed=7)
    other = statuses(faulty, 60)
    assert first == second
    assert first != other
    assert set(first) == {200, 503}
    assert 8 <= first.count(503) <= 30  # about 30 %


def test_rate_limit_sends_retry_after(faulty: httpx.Client) -> None:
    set_faults(faulty, rate_limit_rate=1.0, retry_after=7)
    response = post_event(faulty, track("Signed Up", userId="u"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["status"] == 429


def test_latency_is_added_to_segmentio_only(faulty: httpx.Client) -> None:
    set_faults(faulty, latency_ms=300)
    started = time.monotonic()
    assert post_event(faulty, track("Signed Up", userId="u")).status_code == 200
    slow = time.monotonic() - started
    started = time.monotonic()
    faulty.get("/api/stats")
    fast = time.monotonic() - started
    assert slow >= 0.3
    assert fast < 0.3


def test_timeout_hangs_past_the_client_then_processes(faulty: httpx.Client) -> None:
    set_faults(faulty, timeout_rate=1.0, hang_seconds=1.5)
    code = unique("vc")
    body = track("Order Completed", properties={"kameleoonVisitorCode": code})
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        post_event(faulty, body, timeout=0.5)
    assert time.monotonic() - started >= 0.5
    before = faulty.get("/api/stats").json()
    assert before["faults"]["timeout"] >= 1

    # The client retries while the first attempt still hangs: the retry is accepted,
    # and the hung original lands afterwards as a duplicate, as with a slow Kameleoon.
    faulty.delete("/api/faults")
    assert post_event(faulty, body).json()["outcome"] == "converted"
    deadline = time.monotonic() + 5
    while faulty.get("/api/stats").json()["duplicates"] == before["duplicates"]:
        assert time.monotonic() < deadline, "the hung request never completed"
        time.sleep(0.1)
    assert faulty.get(f"/api/visitors/{code}").json()["goals"] == {"Order Completed": 1}


def test_reset_closes_the_connection_without_a_response(faulty: httpx.Client) -> None:
    set_faults(faulty, reset_rate=1.0)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post_event(faulty, track("Signed Up", userId="u"))
    assert faulty.get("/api/stats").json()["faults"]["reset"] >= 1


def test_reset_is_a_tcp_rst(faulty: httpx.Client, sandbox_server: Server) -> None:
    set_faults(faulty, reset_rate=1.0)
    body = orjson.dumps(track("Signed Up", userId="u"))
    request = (
        f"POST /segmentio HTTP/1.1\r\nHost: 127.0.0.1\r\nauthorization: Basic {DEMO_API_KEY}\r\n"
        f"x-segment-settings: {DEMO_SITECODE}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", sandbox_server.port), timeout=5) as sock:
        sock.sendall(request)
        # A graceful close would read b""; a reset raises ECONNRESET.
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)


def test_faults_spare_the_api_and_the_page(faulty: httpx.Client) -> None:
    set_faults(faulty, error_rate=1.0, error_statuses=[503])
    assert faulty.get("/").status_code == 200
    assert faulty.get("/api/goals").status_code == 200
    assert faulty.get("/api/events").status_code == 200
    assert (
        faulty.get("/segmentio/getapikey", params={"id": "demo", "secret": "demo"}).status_code
        == 503
    )


def test_faults_api_get_post_delete(faulty: httpx.Client) -> None:
    current = set_faults(faulty, error_rate=0.25, error_status=502, latency_ms=1, seed=3)
    assert current["error_statuses"] == [502]
    assert faulty.get("/api/faults").json() == current
    cleared = faulty.delete("/api/faults").json()
    assert cleared["error_rate"] == 0 and cleared["latency_ms"] == 0
    assert faulty.get("/api/faults").json() == cleared


@pytest.mark.parametrize(
    "settings",
    [
        {"error_rate": 2},
        {"error_rate": 0.6, "reset_rate": 0.6},
        {"error_statuses": [200]},
        {"bogus": 1},
        {"latency_ms": "slow"},
        [1],
    ],
)
def test_invalid_fault_settings_are_400(faulty: httpx.Client, settings) -> None:
    response = faulty.post("/api/faults", json=settings)
    assert response.status_code == 400
    assert response.json()["error"]
    assert faulty.get("/api/faults").json()["error_rate"] == 0


def test_cli_flags_set_the_faults(tmp_path) -> None:
    flags = [
        "--error-rate", "0.3", "--error-status", "503", "--error-status", "500",
        "--rate-limit-rate", "0.1", "--retry-after", "2", "--latency-ms", "1",
        "--timeout-rate", "0", "--hang-seconds", "3", "--reset-rate", "0.1", "--seed", "42",
        "--latency-jitter-ms", "0.5", "--rate-limit", "6000/min",
    ]  # fmt: skip
    with sandbox_client(
        ["sandbox", *flags], tmp_path / "log", health_path="/api/faults", timeout=5
    ) as (_server, http):
        assert http.get("/api/faults").json() == {
            "error_rate": 0.3,
            "error_statuses": [503, 500],
            "rate_limit_rate": 0.1,
            "retry_after": 2,
            "latency_ms": 1.0,
            "latency_jitter_ms": 0.5,
            "rate_limit": 100.0,
            "timeout_rate": 0.0,
            "hang_seconds": 3.0,
            "reset_rate": 0.1,
            "seed": 42,
        }
        outcomes = []
        for _ in range(60):
            try:
                response = post_event(http, track("Signed Up", userId="u"))
                outcomes.append(response.status_code)
                if response.status_code == 429:
                    assert response.headers["retry-after"] == "2"
            except (httpx.RemoteProtocolError, httpx.ReadError):
                outcomes.append("reset")
        assert {200, 500, 503, 429, "reset"} <= set(outcomes)
        stats = http.get("/api/stats").json()
        assert stats["faults"]["reset"] == outcomes.count("reset")
        assert stats["accepted"] == outcomes.count(200)


def test_cli_rejects_bad_fault_flags(tmp_path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", "sandbox", "--error-rate", "1.5"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "error_rate" in result.stderr


def test_the_token_bucket_answers_429_above_its_rate_and_latency_changes_live(
    faulty: httpx.Client,
) -> None:
    set_faults(faulty, rate_limit=5)
    answers = statuses(faulty, 12)  # at once: a burst of one, then 5 a second
    assert answers.count(429) >= 6 and answers[0] == 200
    assert faulty.get("/api/stats").json()["faults"]["rate_limit"] >= 6
    time.sleep(1.0)
    assert statuses(faulty, 1) == [200]  # tokens came back
    # PATCH changes the latency while running, keeping the rest.
    changed = faulty.patch("/api/faults", json={"latency_ms": 250, "latency_jitter_ms": 50})
    assert changed.status_code == 200 and changed.json()["rate_limit"] == 5
    started = time.monotonic()
    post_event(faulty, track("Slow", userId="u"))
    assert time.monotonic() - started >= 0.2
    assert faulty.patch("/api/faults", json={"latency_ms": -1}).status_code == 400
