"""RetryPolicy and friends: pure decisions from statuses, errors, Retry-After and the clock."""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import subprocess
from email.utils import formatdate
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kameleoon_relay import USER_AGENT
from kameleoon_relay.actions import HttpRequest
from kameleoon_relay.config.model import DeliverySettings
from kameleoon_relay.delivery import (
    RetryPolicy,
    Verdict,
    classify_error,
    classify_status,
    http_session,
    parse_retry_after,
    sync_client,
)
from kameleoon_relay.delivery.policy import SEND_ERRORS, describe_error


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert classify_status(status) is Verdict.DELIVERED


@pytest.mark.parametrize("status", [408, 423, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_are_retried(status: int) -> None:
    assert classify_status(status) is Verdict.RETRY


@pytest.mark.parametrize("status", [300, 304, 400, 401, 403, 404, 409, 410, 413, 422])
def test_other_statuses_fail_at_once(status: int) -> None:
    assert classify_status(status) is Verdict.FAIL


async def test_network_errors_and_timeouts_are_retried_but_bad_urls_fail() -> None:
    """Real errors from the real client, against real loopback sockets."""
    session = http_session(timeout=0.3, max_connections=2)
    silent = socket.socket()  # listens, never answers: a timeout
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed = socket.socket()  # bound, not listening: connection refused
    closed.bind(("127.0.0.1", 0))
    hangs_up = await asyncio.start_server(_hang_up, "127.0.0.1", 0)  # reads, then closes
    try:
        cases = {
            "timeout": f"http://127.0.0.1:{silent.getsockname()[1]}/x",
            "refused": f"http://127.0.0.1:{closed.getsockname()[1]}/x",
            "hung up": f"http://127.0.0.1:{hangs_up.sockets[0].getsockname()[1]}/x",
            "scheme": "ftp://127.0.0.1/x",
            "malformed": "http://[::1/x",
        }
        errors = {name: await _error_of(session, url) for name, url in cases.items()}
    finally:
        await session.close()
        silent.close()
        closed.close()
        hangs_up.close()
    verdicts = {name: classify_error(exc) for name, exc in errors.items()}
    assert verdicts == {
        "timeout": Verdict.RETRY,
        "refused": Verdict.RETRY,
        "hung up": Verdict.RETRY,
        "scheme": Verdict.FAIL,
        "malformed": Verdict.FAIL,
    }
    assert describe_error(errors["timeout"], 0.3) == "Timeout: no answer within 0.3s"
    assert describe_error(errors["refused"]) == (
        "ConnectError: connection error: Connection refused (os error 111)"
    )
    assert classify_error(ConnectionResetError(104, "reset")) is Verdict.RETRY
    assert classify_error(KeyError("a bug, not the network")) is Verdict.FAIL
    assert describe_error(TimeoutError(), 0.5) == "Timeout: no answer within 0.5s"


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


async def _error_of(session: Any, url: str) -> BaseException:
    request = HttpRequest("POST", url, {"content-type": "application/json"}, {}, b"{}")
    try:
        await session.request(request.method, request.url).body_bytes(request.body).build().send()
    except SEND_ERRORS as exc:
        return exc
    raise AssertionError(f"{url} answered")


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after(formatdate(now + 90, usegmt=True), now) == pytest.approx(90)
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now) == 0.0  # already past
    for bad in (None, "", "soon", "-5", "1.5e3", "Mon, 99 Foo 2024"):
        assert parse_retry_after(bad, now) is None


@given(attempts=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_full_jitter_stays_within_the_capped_exponential(attempts: int, seed: int) -> None:
    policy = RetryPolicy(window=3600, base=0.5, cap=60)
    delay = policy.backoff(attempts, random.Random(seed))
    assert 0 <= delay <= min(60, 0.5 * 2 ** (attempts - 1))


def test_backoff_grows_exponentially_on_average() -> None:
    policy, rng = RetryPolicy(window=3600, base=1, cap=1e9), random.Random(7)
    means = [sum(policy.backoff(n, rng) for _ in range(2000)) / 2000 for n in (1, 4, 8)]
    assert means[0] == pytest.approx(0.5, rel=0.1)
    assert means[1] == pytest.approx(4.0, rel=0.1)
    assert means[2] == pytest.approx(64.0, rel=0.1)


def test_retry_is_scheduled_by_backoff_within_the_window() -> None:
    policy = RetryPolicy(window=3600, base=10, cap=100)
    decision = policy.decide(
        Verdict.RETRY,
        attempts=3,
        window_start=0,
        now=100,
        reason="HTTP 503",
        rng=random.Random(1),
    )
    assert decision.state == "pending" and decision.error == "HTTP 503"
    assert decision.next_attempt_at is not None and 100 <= decision.next_attempt_at <= 140


def test_retry_after_is_honoured_over_backoff() -> None:
    policy = RetryPolicy(window=3600, base=0.001, cap=0.001)
    decision = policy.decide(
        Verdict.RETRY, attempts=1, window_start=0, now=10, reason="HTTP 429", retry_after=30
    )
    assert decision.next_attempt_at == 40


def test_past_the_window_is_dead_with_the_last_reason() -> None:
    policy = RetryPolicy(window=60, base=1, cap=1)
    decision = policy.decide(
        Verdict.RETRY, attempts=9, window_start=0, now=61, reason="HTTP 503 Service Unavailable"
    )
    assert decision.state == "dead" and decision.next_attempt_at is None
    assert decision.error is not None
    assert decision.error.endswith("HTTP 503 Service Unavailable")
    assert "9 attempt(s)" in decision.error
    # A Retry-After beyond the window is dead too: waiting would overshoot it.
    late = policy.decide(
        Verdict.RETRY, attempts=1, window_start=0, now=1, reason="HTTP 429", retry_after=3600
    )
    assert late.state == "dead"


def test_a_backoff_past_the_window_makes_a_last_attempt_at_its_end() -> None:
    """Issue 19 defect 18: "gave up after 8 attempt(s) over 43s (retry window 120s)"."""
    policy = RetryPolicy(window=120, base=60, cap=600)
    rng = random.Random(3)
    now, attempts, times = 0.0, 0, []
    while True:
        attempts += 1
        times.append(now)
        decision = policy.decide(
            Verdict.RETRY, attempts=attempts, window_start=0, now=now, reason="HTTP 503", rng=rng
        )
        if decision.state == "dead":
            break
        assert decision.next_attempt_at is not None and decision.next_attempt_at <= 120
        now = decision.next_attempt_at
    assert times[-1] == 120  # the last attempt is at the window's end, not before it
    assert decision.error is not None and "over 120s" in decision.error
    early = policy.decide(
        Verdict.RETRY, attempts=8, window_start=0, now=43, reason="HTTP 503", rng=_Longest()
    )
    assert (early.state, early.next_attempt_at) == ("pending", 120)


class _Longest(random.Random):
    """Jitter that always draws the longest wait."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_fail_and_deliver_do_not_schedule_anything() -> None:
    policy = RetryPolicy.from_settings(DeliverySettings())
    assert policy.window == 4 * 3600  # the documented default
    failed = policy.decide(Verdict.FAIL, attempts=1, window_start=0, now=1, reason="HTTP 400")
    assert (failed.state, failed.error, failed.next_attempt_at) == ("failed", "HTTP 400", None)
    assert policy.decide(Verdict.DELIVERED, attempts=1, window_start=0, now=1).state == (
        "delivered"
    )


async def test_session_sends_our_user_agent_ignores_proxy_variables_and_caps_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A proxy from the environment would get the requests (and fail them): it must not.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    seen: list[bytes] = []
    open_now = [0, 0]  # now, most at once

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await _read_head(reader):
            seen.append(head)
            open_now[0] += 1
            open_now[1] = max(open_now)
            await asyncio.sleep(0.05)
            open_now[0] -= 1
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/segmentio"
    session = http_session(timeout=5, max_connections=3)
    try:
        sends = [session.post(url).body_bytes(b"{}").build().send() for _ in range(9)]
        statuses = [response.status for response in await asyncio.gather(*sends)]
    finally:
        await session.close()
        server.close()
    assert statuses == [200] * 9
    assert len(seen) == 9 and open_now[1] <= 3
    assert all(f"user-agent: {USER_AGENT}".encode() in head.lower() for head in seen)
    assert USER_AGENT.startswith("kameleoon-relay/")


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    await reader.readexactly(length)
    return head

    with sync_client(timeout=1) as client:
        assert client.headers["user-agent"] == USER_AGENT


async def test_https_is_verified_and_an_unknown_issuer_is_refused(tmp_path: Any) -> None:
    """A certificate no trusted root signed: the client refuses it (and says why)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = await asyncio.start_server(_hang_up, "127.0.0.1", 0, ssl=context)
    session = http_session(timeout=3)
    try:
        error = await _error_of(session, f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
    finally:
        await session.close()
        server.close()
    assert "invalid peer certificate" in describe_error(error)
