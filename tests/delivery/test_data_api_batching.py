"""Batched delivery to the Data API against a real sandbox subprocess, on both stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from kameleoon_relay.config import Config
from kameleoon_relay.config.loader import parse_config
from kameleoon_relay.store import DeliveryQuery
from tests.delivery.test_delivery_sandbox import (
    count,
    dispatching,
    eventually,
    sandbox_stats,
    set_faults,
)
from tests.helpers.processes import Server, running
from tests.store.store_factories import DEMO_SITECODE, record


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


SECRET = "demo"  # the sandbox's demo client secret


def data_api_config(url: str, secret: str = SECRET, **batch: Any) -> Config:
    return parse_config(
        {
            "sources": [{"name": "web", "write_key": "wk"}],
            "destinations": [
                {
                    "name": "direct",
                    "type": "kameleoon-data-api",
                    "endpoint": url,
                    "token_url": f"{url}/oauth/token",
                    "settings": {
                        "clientId": "demo",
                        "clientSecret": secret,
                        "sitecode": DEMO_SITECODE,
                    },
                    "goals": {"Order Completed": 424242},
                    "custom_data": {"plan": 3},
                    "batch": {"max_events": 50, "max_wait": 0, **batch},
                }
            ],
            "database": "sqlite:///:memory:",
            "delivery": {
                "retry_window": 120,
                "concurrency": 4,
                "timeout": 2,
                "backoff_base": 0.05,
                "backoff_max": 0.3,
            },
        },
        {},
    )


def orders(n: int, run: str, plan: str = "pro") -> list:
    return [
        record(
            f"{run}-{i}",
            ("direct",),
            event={
                "type": "track",
                "event": "Order Completed",
                "userId": f"u{i}",
                "messageId": f"{run}-{i}",
                "timestamp": "2024-05-01T12:00:00.000Z",
                "properties": {
                    "kameleoonVisitorCode": f"{run}-v{i}",
                    "revenue": i,
                    "plan": plan if i != 7 else "poison",
                },
            },
        )
        for i in range(n)
    ]


def read_back(url: str, code: str) -> dict[str, Any]:
    with httpx.Client(base_url=url) as client:
        form = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo"}
        token = client.post("/oauth/token", data=form).json()["access_token"]
        params = {
            "siteCode": DEMO_SITECODE,
            "visitorCode": code,
            "conversion": "true",
            "customdata": "true",
        }
        answer = client.get(
            "/visit/visitor", params=params, headers={"authorization": f"Bearer {token}"}
        )
        return answer.json()


async def test_events_go_many_to_a_request_with_one_token(sandbox_url: str, db_url: str) -> None:
    run = uuid.uuid4().hex[:8]
    before = await sandbox_stats(sandbox_url)
    async with dispatching(db_url, data_api_config(sandbox_url)) as (store, dispatcher):
        await store.ingest(orders(120, run))
        dispatcher.wake()
        await eventually(lambda: _is(count(store, "delivered"), 120))
        rows = await store.list_deliveries(limit=1)
        detail = await store.get_delivery(rows[0]["id"])
        fetches = dispatcher.tokens.fetches
    after = await sandbox_stats(sandbox_url)
    # Two lines an event (a conversion and its custom data), 50 events a request at most.
    assert after["accepted"] - before["accepted"] == 240
    assert 3 <= after["received"] - before["received"] <= 6
    assert after["token_requests"] - before["token_requests"] == fetches == 1
    assert detail is not None
    sent = detail["history"][0]
    headers = sent["request"]["headers"]
    assert headers["authorization"] == "Bearer ***"
    assert "events=" in headers["x-relay-batch"]
    back = read_back(sandbox_url, f"{run}-v5")
    assert back["conversions"] == [
        {"goalId": 424242, "name": "Order Completed", "count": 1, "revenue": 5.0}
    ]
    assert back["customData"] == {"3": ["pro"]}


async def test_a_poison_event_fails_alone_and_the_rest_are_delivered(
    sandbox_url: str, db_url: str
) -> None:
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=sandbox_url) as client:
        client.post("/api/data-api", json={"refuse": "poison"})
    try:
        async with dispatching(db_url, data_api_config(sandbox_url)) as (store, dispatcher):
            await store.ingest(orders(40, run))
            dispatcher.wake()
            await eventually(lambda: _is(count(store, "delivered"), 39))
            await eventually(lambda: _is(count(store, "failed"), 1))
            [failed] = await store.list_deliveries(DeliveryQuery(states=("failed",)), limit=5)
            detail = await store.get_delivery(failed["id"])
    finally:
        with httpx.Client(base_url=sandbox_url) as client:
            client.post("/api/data-api", json={"refuse": None})
    assert detail is not None and detail["event"]["messageId"] == f"{run}-7"
    assert "refused" in (detail["last_error"] or "")
    assert read_back(sandbox_url, f"{run}-v8")["customData"] == {"3": ["pro"]}


async def test_retries_repeat_the_nonces_and_a_revoked_token_is_replaced(
    sandbox_url: str, db_url: str
) -> None:
    run = uuid.uuid4().hex[:8]
    before = await sandbox_stats(sandbox_url)
    await set_faults(sandbox_url, error_rate=0.5, error_statuses=[503], seed=7)
    async with dispatching(db_url, data_api_config(sandbox_url, max_events=10)) as (
        store,
        dispatcher,
    ):
        await store.ingest(orders(30, run)[:5])
        dispatcher.wake()
        await eventually(lambda: _is(count(store, "delivered"), 5))
        with httpx.Client(base_url=sandbox_url) as client:
            client.delete("/api/faults")
            client.post("/api/data-api", json={"revoke_tokens": True})
        await store.ingest(orders(30, run)[5:])
        dispatcher.wake()
        await eventually(lambda: _is(count(store, "delivered"), 30))
        fetches = dispatcher.tokens.fetches
    after = await sandbox_stats(sandbox_url)
    assert after["accepted"] - before["accepted"] == 60  # each line once, whatever the retries
    assert fetches == 2  # the revoked token was dropped after its 401, and one more fetched
    assert after["tokens_refused"] - before["tokens_refused"] >= 1


async def test_a_wrong_secret_fails_with_a_clear_reason_and_never_shows_it(
    sandbox_url: str, db_url: str
) -> None:
    run = uuid.uuid4().hex[:8]
    wrong = "wrong-secret-" + run
    async with dispatching(db_url, data_api_config(sandbox_url, secret=wrong)) as (store, disp):
        await store.ingest(orders(3, run))
        disp.wake()
        await eventually(lambda: _is(count(store, "failed"), 3))
        [row] = await store.list_deliveries(DeliveryQuery(states=("failed",)), limit=1)
        detail = await store.get_delivery(row["id"])
    assert detail is not None
    assert "OAuth token refused" in detail["last_error"] and "clientSecret" in detail["last_error"]
    assert wrong not in orjson.dumps(detail).decode()


async def _is(value: Any, expected: int) -> bool:
    return await value == expected


async def test_a_429_pauses_the_batches_then_they_go(sandbox_url: str, db_url: str) -> None:
    run = uuid.uuid4().hex[:8]
    await set_faults(sandbox_url, rate_limit_rate=1.0, retry_after=1)
    async with dispatching(db_url, data_api_config(sandbox_url, max_events=10)) as (
        store,
        dispatcher,
    ):
        await store.ingest(orders(40, run))
        dispatcher.wake()
        await eventually(lambda: _at_least(sandbox_stats(sandbox_url), "fault_rate_limit", 1))
        with httpx.Client(base_url=sandbox_url) as client:
            client.delete("/api/faults")
        await eventually(lambda: _is(count(store, "delivered"), 40))
    assert read_back(sandbox_url, f"{run}-v3")["customData"] == {"3": ["pro"]}


async def _at_least(stats: Any, key: str, expected: int) -> bool:
    return (await stats)["faults"]["rate_limit"] >= expected
