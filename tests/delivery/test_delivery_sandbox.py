"""The dispatcher against a real sandbox subprocess with injected faults."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kameleoon_relay.config import Config
from kameleoon_relay.config.model import DeliverySettings
from kameleoon_relay.delivery import Dispatcher, RetryPolicy
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store import DeliveryQuery, Store, open_store
from tests.helpers.processes import Server, running
from tests.store.store_factories import DEMO_API_KEY, DEMO_SITECODE, config_for, record

FAST = DeliverySettings(
    retry_window=120, concurrency=8, timeout=2, backoff_base=0.05, backoff_max=0.3
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    with running(["sandbox"], log, health_path="/api/stats") as server:
        yield server


@pytest.fixture
def sandbox_url(sandbox: Server) -> Iterator[str]:
    httpx.delete(f"{sandbox.url}/api/faults")
    yield sandbox.url
    httpx.delete(f"{sandbox.url}/api/faults")


def events(n: int, destinations: tuple[str, ...] = ("kameleoon",)) -> list:
    run = uuid.uuid4().hex[:8]
    return [record(f"{run}-{i}", destinations) for i in range(n)]


def demo_config(url: str, api_key: str = DEMO_API_KEY, **more: str) -> Config:
    endpoints = {"kameleoon": f"{url}/segmentio", **{k: f"{v}/segmentio" for k, v in more.items()}}
    return config_for(endpoints, api_key=api_key, sitecode=DEMO_SITECODE)


async def sandbox_stats(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{url}/api/stats")).json()


async def set_faults(url: str, **faults: Any) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/api/faults", json=faults)
        assert response.status_code == 200, response.text


async def clear_faults(url: str) -> None:
    async with httpx.AsyncClient() as client:
        await client.delete(f"{url}/api/faults")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 45) -> None:
    """Wait for a condition; the deadline only guards against hangs, it measures nothing."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def count(store: Store, state: str) -> int:
    return (await store.stats())["deliveries"][state]


def dispatcher_for(store: Store, config: Config, settings: DeliverySettings = FAST) -> Dispatcher:
    pipeline = Pipeline(config)
    return Dispatcher(store, lambda: pipeline, settings)


def opened_store(url: str) -> Store:
    return open_store(url, dedupe_window=86400)


@contextlib.asynccontextmanager
async def dispatching(
    db_url: str, config: Config, options: DeliverySettings = FAST
) -> AsyncIterator[tuple[Store, Dispatcher]]:
    store = opened_store(db_url)
    await store.open()
    dispatcher = dispatcher_for(store, config, options)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    try:
        yield store, dispatcher
    finally:
        stop.set()
        await task
        await store.close()


async def test_every_event_is_delivered_once(sandbox_url: str, db_url: str) -> None:
    before = await sandbox_stats(sandbox_url)
    async with dispatching(db_url, demo_config(sandbox_url)) as (store, dispatcher):
        await store.ingest(events(60))
        dispatcher.wake()
        await eventually(lambda: _equals(count(store, "delivered"), 60))
        [row] = await store.list_deliveries(limit=1)
        detail = await store.get_delivery(row["id"])
    after = await sandbox_stats(sandbox_url)
    assert after["accepted"] - before["accepted"] == 60
    assert after["duplicates"] == before["duplicates"]
    assert detail is not None and detail["last_status"] == 200 and detail["attempts"] == 1
    [sent] = detail["history"]
    assert sent["request"]["json"]["event"] == "Signed Up"  # the body as it was sent
    assert sent["request"]["headers"]["authorization"] == "Basic ***"
    assert sent["response"] is None  # no sample is kept for a 2xx


async def test_503s_are_retried_until_the_faults_stop(sandbox_url: str, db_url: str) -> None:
    before = await sandbox_stats(sandbox_url)
    await set_faults(sandbox_url, error_rate=1.0, error_statuses=[503])
    async with dispatching(db_url, demo_config(sandbox_url)) as (store, dispatcher):
        await store.ingest(events(30))
        dispatcher.wake()
        await eventually(lambda: _at_least(count(store, "retrying"), 30))
        [row] = await store.list_deliveries(limit=1)
        assert row["last_status"] == 503 and row["last_error"].startswith("HTTP 503")
        await clear_faults(sandbox_url)
        await eventually(lambda: _equals(count(store, "delivered"), 30))
        rows = await store.list_deliveries(limit=100)
    after = await sandbox_stats(sandbox_url)
    assert after["accepted"] - before["accepted"] == 30
    assert after["faults"]["error"] - before["faults"]["error"] >= 30
    assert all(r["attempts"] >= 2 and r["last_error"] is None for r in rows)


async def test_429_retry_after_is_honoured(sandbox_url: str, db_url: str) -> None:
    await set_faults(sandbox_url, rate_limit_rate=1.0, retry_after=2)
    async with dispatching(db_url, demo_config(sandbox_url)) as (store, dispatcher):
        await store.ingest(events(5))
        dispatcher.wake()
        await eventually(lambda: _at_least(count(store, "retrying"), 5))
        rows = await store.list_deliveries(limit=10)
        for row in rows:
            # Backoff alone would be <= 0.3 s; the server asked for 2 s.
            assert row["next_attempt_at"] - row["last_attempt_at"] == pytest.approx(2, abs=0.01)
            assert row["last_status"] == 429 and "Retry-After: 2" in row["last_error"]
        await clear_faults(sandbox_url)
        await eventually(lambda: _equals(count(store, "delivered"), 5))


async def test_timeouts_are_retried(sandbox_url: str, db_url: str) -> None:
    await set_faults(sandbox_url, timeout_rate=1.0, hang_seconds=3)
    options = DeliverySettings(
        retry_window=120, concurrency=8, timeout=0.3, backoff_base=0.05, backoff_max=0.3
    )
    async with dispatching(db_url, demo_config(sandbox_url), options) as (store, dispatcher):
        await store.ingest(events(5))
        dispatcher.wake()
        await eventually(lambda: _at_least(count(store, "retrying"), 5))
        [row] = await store.list_deliveries(limit=1)
        assert row["last_status"] is None
        assert row["last_error"] == "Timeout: no answer within 0.3s"
        await clear_faults(sandbox_url)
        await eventually(lambda: _equals(count(store, "delivered"), 5))


async def test_connection_resets_are_retried(sandbox_url: str, db_url: str) -> None:
    before = await sandbox_stats(sandbox_url)
    await set_faults(sandbox_url, reset_rate=0.5, seed=4)
    async with dispatching(db_url, demo_config(sandbox_url)) as (store, dispatcher):
        await store.ingest(events(40))
        dispatcher.wake()
        await eventually(lambda: _equals(count(store, "delivered"), 40))
        rows = await store.list_deliveries(limit=100)
    after = await sandbox_stats(sandbox_url)
    assert after["faults"]["reset"] > before["faults"]["reset"]
    assert any(r["attempts"] > 1 for r in rows)  # some were reset and sent again
    assert after["accepted"] - before["accepted"] == 40


async def test_a_tiny_window_dead_letters_with_the_reason(sandbox_url: str, db_url: str) -> None:
    await set_faults(sandbox_url, error_rate=1.0, error_statuses=[502])
    options = DeliverySettings(
        retry_window=0.5, concurrency=4, timeout=2, backoff_base=0.05, backoff_max=0.1
    )
    async with dispatching(db_url, demo_config(sandbox_url), options) as (store, dispatcher):
        await store.ingest(events(3))
        dispatcher.wake()
        await eventually(lambda: _equals(count(store, "dead"), 3))
        rows = await store.list_deliveries(DeliveryQuery(states=("dead",)))
    for row in rows:
        assert row["attempts"] >= 2
        assert row["last_status"] == 502
        assert row["last_error"].startswith("gave up after")
        assert "HTTP 502" in row["last_error"] and "injected fault" in row["last_error"]


async def test_client_errors_fail_at_once_without_leaking_the_key(
    sandbox_url: str, db_url: str
) -> None:
    wrong_key = base64.b64encode(b'{"id":"nobody","secret":"hunter2-hunter2"}').decode()
    async with dispatching(db_url, demo_config(sandbox_url, api_key=wrong_key)) as (
        store,
        dispatcher,
    ):
        await store.ingest(events(2))
        dispatcher.wake()
        await eventually(lambda: _equals(count(store, "failed"), 2))
        rows = await store.list_deliveries(DeliveryQuery(states=("failed",)))
        details = [await store.get_delivery(r["id"]) for r in rows]
    assert [r["last_status"] for r in rows] == [401, 401]
    assert all(r["attempts"] == 1 for r in rows)
    assert all(d is not None and d["history"][0]["response"] for d in details)  # kept: non-2xx
    assert wrong_key not in repr(details) and wrong_key not in repr(rows)


async def test_a_slow_destination_does_not_hold_back_a_fast_one(
    sandbox_url: str, db_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "slow.log"
    with running(["sandbox", "--latency-ms", "3000"], log, health_path="/api/stats") as slow:
        options = DeliverySettings(
            retry_window=120, concurrency=2, timeout=10, backoff_base=0.05, backoff_max=0.3
        )
        config = demo_config(sandbox_url, slow=slow.url, fast=sandbox_url)
        async with dispatching(db_url, config, options) as (store, dispatcher):
            await store.ingest(events(20, ("slow",)))
            await store.ingest(events(40, ("fast",)))
            dispatcher.wake()
            await eventually(lambda: _equals(_destination(store, "fast", "delivered"), 40))
            # 20 slow requests, 2 at a time, 3 s each: most are still waiting (pending, or
            # claimed ahead by the slow destination's worker: in flight, unsent).
            assert await _destination(store, "slow", "delivered") <= 6
            waiting = await _destination(store, "slow", "pending")
            assert waiting + await _destination(store, "slow", "in_flight") >= 14


async def test_stopping_finishes_requests_in_flight(sandbox_url: str, db_url: str) -> None:
    await set_faults(sandbox_url, latency_ms=500)
    store = opened_store(db_url)
    await store.open()
    dispatcher = dispatcher_for(store, demo_config(sandbox_url))
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    await store.ingest(events(20))
    dispatcher.wake()
    await eventually(lambda: _at_least(count(store, "in_flight"), 1))
    stop.set()
    await task
    stats = (await store.stats())["deliveries"]
    await store.close()
    assert stats["in_flight"] == 0
    assert stats["delivered"] >= 1  # what was sent was finished and recorded...
    assert stats["delivered"] + stats["pending"] == 20  # ...and nothing more was claimed


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _at_least(value: Awaitable[int], expected: int) -> bool:
    return await value >= expected


async def _destination(store: Store, name: str, state: str) -> int:
    entry = (await store.stats())["destinations"].get(name)
    return entry["total"][state] if entry else 0


async def test_cancelling_leaves_work_for_the_next_start(sandbox_url: str, tmp_path: Path) -> None:
    await set_faults(sandbox_url, latency_ms=2000)
    store = opened_store(f"sqlite:///{tmp_path / 'relay.db'}")
    await store.open()
    task = asyncio.create_task(dispatcher_for(store, demo_config(sandbox_url)).run(asyncio.Event()))
    await store.ingest(events(4))
    await eventually(lambda: _at_least(count(store, "in_flight"), 1))
    task.cancel()  # a hard stop: nothing is recorded for the requests cut short
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await store.close()
    await clear_faults(sandbox_url)
    store = opened_store(f"sqlite:///{tmp_path / 'relay.db'}")
    await store.open(recover=False)
    assert await count(store, "in_flight") >= 1
    await store.close()
    store = opened_store(f"sqlite:///{tmp_path / 'relay.db'}")
    await store.open()  # recovery: in-flight rows are pending again
    assert await count(store, "in_flight") == 0
    dispatcher = dispatcher_for(store, demo_config(sandbox_url))
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    await eventually(lambda: _equals(count(store, "delivered"), 4))
    stop.set()
    await task
    await store.close()


def test_dispatcher_reads_the_configs_delivery_settings() -> None:
    from kameleoon_relay.config import DeliverySettings

    settings = DeliverySettings(
        retry_window=60, concurrency=3, timeout=1.5, backoff_base=0.5, backoff_max=9
    )
    assert settings == DeliverySettings(60, 3, 1.5, 0.5, 9)
    policy = RetryPolicy.from_settings(settings)
    assert policy.window == 60 and policy.cap == 9
