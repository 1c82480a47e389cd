"""The SQLite queue on real files: ingest, dedupe, claim, attempts, stats, inspection."""

from __future__ import annotations

import asyncio
import time

import pytest

from kameleoon_relay.store import AttemptOutcome, IngestItem, SQLiteStore, open_store
from tests.store.store_factories import API_KEY, item, planned, track


async def opened(url: str) -> SQLiteStore:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    await store.open()
    return store


async def test_ingest_creates_one_pending_delivery_per_planned_entry(db_url: str) -> None:
    store = await opened(db_url)
    result = await store.ingest([item("m1", ["a", "b"]), item("m2", ["a"])])
    assert (result.accepted, result.duplicates) == (2, 0)
    stats = await store.stats()
    assert stats["events"] == {"received": 2, "duplicates": 0, "rejected": 0, "filtered": 0}
    assert stats["deliveries"]["pending"] == 3
    assert stats["destinations"]["a"]["total"]["pending"] == 2
    assert stats["destinations"]["b"]["actions"]["logEvent"]["pending"] == 1
    await store.close()


async def test_duplicates_within_the_window_create_nothing(db_url: str) -> None:
    store = await opened(db_url)
    now = time.time()
    await store.ingest([item("m1", received_at=now - 10)])
    result = await store.ingest([item("m1", received_at=now), item("m2"), item("m2")])
    assert (result.accepted, result.duplicates) == (1, 2)
    stats = await store.stats()
    assert stats["events"] == {"received": 2, "duplicates": 2, "rejected": 0, "filtered": 0}
    assert stats["deliveries"]["pending"] == 2
    await store.close()


async def test_a_message_id_older_than_the_window_is_accepted_again(tmp_path) -> None:
    store = SQLiteStore(str(tmp_path / "q.db"), dedupe_window=60)
    await store.open()
    await store.ingest([item("m1", received_at=1000.0)])
    result = await store.ingest([item("m1", received_at=1061.0)])
    assert result.accepted == 1
    await store.close()


async def test_validation_errors_are_stored_failed_and_never_claimed(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([item("m1", error="The root value is missing the required field 'type'.")])
    assert await store.claim("kameleoon", 10, time.time() + 1) == []
    [row] = await store.list_deliveries(state="failed")
    assert row["last_error"] == (
        "PayloadValidationError: The root value is missing the required field 'type'."
    )
    assert row["attempts"] == 0
    assert (await store.stats())["deliveries"]["failed"] == 1
    await store.close()


async def test_claim_takes_due_rows_of_one_destination_up_to_the_limit(db_url: str) -> None:
    store = await opened(db_url)
    now = time.time()
    await store.ingest([item(f"m{i}", ["a", "b"], received_at=now) for i in range(5)])
    first = await store.claim("a", 3, now)
    assert len(first) == 3 and {r.destination for r in first} == {"a"}
    assert first[0].request["headers"]["authorization"] == f"Basic {API_KEY}"  # sendable
    second = await store.claim("a", 10, now)
    assert len(second) == 2
    assert {r.id for r in first}.isdisjoint(r.id for r in second)
    assert await store.claim("a", 10, now) == []
    stats = await store.stats()
    assert stats["destinations"]["a"]["total"]["in_flight"] == 5
    assert stats["destinations"]["b"]["total"]["pending"] == 5
    await store.close()


async def test_claim_leaves_rows_that_are_not_due_yet(db_url: str) -> None:
    store = await opened(db_url)
    now = time.time()
    await store.ingest([item("m1", received_at=now)])
    assert await store.claim("kameleoon", 10, now - 5) == []
    assert len(await store.claim("kameleoon", 10, now)) == 1
    await store.close()


async def test_retry_then_deliver_updates_state_attempts_and_samples(db_url: str) -> None:
    store = await opened(db_url)
    now = time.time()
    await store.ingest([item("m1", received_at=now)])
    [record] = await store.claim("kameleoon", 1, now)
    await store.record_attempt(
        record.id,
        AttemptOutcome(
            "pending",
            now,
            status=503,
            error="HTTP 503",
            response_sample="busy",
            next_attempt_at=now + 30,
        ),
    )
    stats = await store.stats()
    assert stats["deliveries"]["retrying"] == 1 and stats["deliveries"]["pending"] == 0
    assert await store.claim("kameleoon", 1, now + 29) == []
    [again] = await store.claim("kameleoon", 1, now + 30)
    assert again.attempts == 1 and again.window_start == pytest.approx(now)
    await store.record_attempt(
        again.id, AttemptOutcome("delivered", now + 30, status=200, response_sample="{}")
    )
    detail = await store.get_delivery(record.id)
    assert detail is not None
    assert (detail["state"], detail["attempts"], detail["last_status"]) == ("delivered", 2, 200)
    assert detail["last_error"] is None and detail["response_sample"] == "{}"
    assert detail["event"]["messageId"] == "m1"
    assert [(a["outcome"], a["status"], a["error"]) for a in detail["history"]] == [
        ("retry", 503, "HTTP 503"),
        ("delivered", 200, None),
    ]
    stats = await store.stats()
    assert stats["deliveries"]["delivered"] == 1 and stats["deliveries"]["retrying"] == 0
    await store.close()


async def test_get_delivery_masks_the_api_key(db_url: str) -> None:
    store = await opened(db_url)
    now = time.time()
    await store.ingest([item("m1", received_at=now)])
    [record] = await store.claim("kameleoon", 1, now)
    # A destination that echoes the key back must not leak it through the sample either.
    await store.record_attempt(
        record.id,
        AttemptOutcome(
            "failed",
            now,
            status=401,
            error=f"HTTP 401: bad key {API_KEY}",
            response_sample=f"bad key {API_KEY}",
        ),
    )
    detail = await store.get_delivery(record.id)
    assert detail is not None
    assert detail["request"]["headers"]["authorization"] == "Basic ***"
    assert detail["request"]["headers"]["x-segment-settings"] == "abcdefghij"
    assert API_KEY not in repr(detail)
    assert API_KEY not in repr(await store.list_deliveries())
    assert await store.get_delivery(12345) is None
    await store.close()


async def test_list_deliveries_filters_by_state_and_destination(db_url: str) -> None:
    store = await opened(db_url)
    now = time.time()
    await store.ingest([item(f"m{i}", ["a", "b"], received_at=now) for i in range(3)])
    [record] = await store.claim("a", 1, now)
    await store.record_attempt(record.id, AttemptOutcome("dead", now, error="gave up"))
    assert [r["id"] for r in await store.list_deliveries(state="dead")] == [record.id]
    assert len(await store.list_deliveries(destination="b")) == 3
    assert len(await store.list_deliveries(state="pending", destination="a")) == 2
    page = await store.list_deliveries(limit=2, offset=1)
    assert len(page) == 2 and "request" not in page[0]
    with pytest.raises(ValueError, match="unknown state"):
        await store.list_deliveries(state="bogus")
    await store.close()


async def test_events_without_planned_deliveries_are_still_counted(db_url: str) -> None:
    store = await opened(db_url)
    result = await store.ingest([IngestItem("m1", "web", track("m1"), time.time(), planned=[])])
    assert result.accepted == 1
    stats = await store.stats()
    assert stats["events"]["received"] == 1 and stats["destinations"] == {}
    await store.close()


async def test_concurrent_writes_share_commits(db_url: str) -> None:
    store = await opened(db_url)
    before = store.commits
    await asyncio.gather(*(store.ingest([item(f"m{i}")]) for i in range(200)))
    assert (await store.stats())["events"]["received"] == 200
    # Group commit: 200 acknowledged ingests needed far fewer fsync'd transactions.
    assert store.commits - before < 200
    await store.close()


async def test_a_failing_job_does_not_undo_the_others_in_its_batch(db_url: str) -> None:
    store = await opened(db_url)
    bad = IngestItem("m-bad", "web", {"not": {1, 2}}, time.time(), [planned()])  # sets: no JSON
    results = await asyncio.gather(
        store.ingest([item("m1")]),
        store.ingest([bad]),
        store.ingest([item("m2")]),
        return_exceptions=True,
    )
    assert isinstance(results[1], TypeError)
    assert (await store.stats())["events"]["received"] == 2
    await store.close()


async def test_using_a_closed_store_is_a_clear_error(db_url: str) -> None:
    store = open_store(db_url)
    with pytest.raises(RuntimeError, match="not open"):
        await store.stats()


async def test_the_actions_exact_body_is_kept_for_sending(db_url: str) -> None:
    from kameleoon_relay.actions import HttpRequest
    from kameleoon_relay.delivery import build_request, http_client
    from kameleoon_relay.pipeline import PlannedDelivery

    exact = b'{"type":"track","n":1.0}'  # not what re-serialising {"n": 1.0} would give
    request = HttpRequest("POST", "http://x/", {"authorization": "Basic k3y-k3y"}, {}, exact)
    store = await opened(db_url)
    now = time.time()
    planned_entry = PlannedDelivery("kameleoon", "Track Calls", "logEvent", request)
    await store.ingest([IngestItem("m1", "web", track("m1"), now, [planned_entry])])
    [record] = await store.claim("kameleoon", 1, now)
    async with http_client() as client:
        assert build_request(client, record.request).content == exact
    detail = await store.get_delivery(record.id)
    assert detail is not None and detail["request"]["json"] == {"type": "track", "n": 1.0}
    assert detail["request"]["headers"]["authorization"] == "Basic ***"
    await store.close()
