"""RetryPolicy and friends: pure decisions from statuses, errors, Retry-After and the clock."""

from __future__ import annotations

import random
from email.utils import formatdate

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kameleoon_relay import USER_AGENT
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
from kameleoon_relay.delivery.policy import describe_error


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert classify_status(status) is Verdict.DELIVERED


@pytest.mark.parametrize("status", [408, 423, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_are_retried(status: int) -> None:
    assert classify_status(status) is Verdict.RETRY


@pytest.mark.parametrize("status", [300, 304, 400, 401, 403, 404, 409, 410, 413, 422])
def test_other_statuses_fail_at_once(status: int) -> None:
    assert classify_status(status) is Verdict.FAIL


def test_network_errors_and_timeouts_are_retried_but_bad_urls_fail() -> None:
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 9, False, True, None, None, None)
    assert classify_error(TimeoutError()) is Verdict.RETRY
    assert classify_error(aiohttp.ServerTimeoutError("slow")) is Verdict.RETRY
    refused = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    assert classify_error(refused) is Verdict.RETRY
    assert classify_error(aiohttp.ServerDisconnectedError()) is Verdict.RETRY
    assert classify_error(aiohttp.ClientPayloadError("cut short")) is Verdict.RETRY
    assert classify_error(ConnectionResetError(104, "reset")) is Verdict.RETRY
    assert classify_error(aiohttp.InvalidURL("bad")) is Verdict.FAIL
    assert classify_error(ValueError("not a network error")) is Verdict.FAIL
    assert describe_error(TimeoutError(), 0.5) == "Timeout: no answer within 0.5s"


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


def test_fail_and_deliver_do_not_schedule_anything() -> None:
    policy = RetryPolicy.from_settings(DeliverySettings())
    assert policy.window == 4 * 3600  # the documented default
    failed = policy.decide(Verdict.FAIL, attempts=1, window_start=0, now=1, reason="HTTP 400")
    assert (failed.state, failed.error, failed.next_attempt_at) == ("failed", "HTTP 400", None)
    assert policy.decide(Verdict.DELIVERED, attempts=1, window_start=0, now=1).state == (
        "delivered"
    )


async def test_session_sends_our_user_agent_and_ignores_proxy_variables() -> None:
    session = http_session(timeout=1, max_connections=3)
    try:
        assert session.headers["user-agent"] == USER_AGENT
        assert USER_AGENT.startswith("kameleoon-relay/")
        assert session.trust_env is False
        assert session.connector is not None and session.connector.limit == 3
    finally:
        await session.close()
    with sync_client(timeout=1) as client:
        assert client.headers["user-agent"] == USER_AGENT
