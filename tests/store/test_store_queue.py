"""The queue on each store (SQLite on real files, PostgreSQL in a fresh database): ingest,
dedupe, identity links, claim with leases, attempts, stats and inspection."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from kameleoon_relay.store import (
    REPORTED_STATES,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryQuery,
    EventRecord,
    SentRequest,
    SQLiteStore,
    Store,
    open_store,
)
from tests.store.store_factories import record, track

NOW = 1_700_000_000.0
LEASE = 30.0
WINDOW = 3600.0


async def opened(url: str, dedupe_window: float = WINDOW) -> Store:
    store = open_store(url, dedupe_window=dedupe_window)
    await store.open()
    return store


def outcome(
    claimed: ClaimedDelivery, state: str, at: float = NOW, **fields: object
) -> DeliveryOutcome:
    return DeliveryOutcome(claimed.id, claimed.lease, state, at, **fields)  # type: ignore[arg-type]


# -- ingest --------------------------------------------------------------------------------


async def test_ingest_creates_one_pending_delivery_per_destination(db_url: str) -> None:
    store = await opened(db_url)
    result = await store.ingest(
        [record("m1", ["a", "b"], received_at=NOW), record("m2", ["a"], received_at=NOW)]
    )
    assert (result.accepted, result.duplicates, result.rejected, result.failed) == (2, 0, 0, {})
    stats = await store.stats()
    assert stats["events"] == {"received": 2, "duplicates": 0, "rejected": 0, "filtered": 0}
    assert stats["deliveries"]["pending"] == 3
    assert stats["destinations"]["a"]["total"]["pending"] == 2
    assert stats["destinations"]["b"]["total"]["pending"] == 1
    rows = await store.list_deliveries(limit=10)
    assert sorted((r["message_id"], r["destination"]) for r in rows) == [
        ("m1", "a"),
        ("m1", "b"),
        ("m2", "a"),
    ]
    assert {r["state"] for r in rows} == {"pending"} and {r["action"] for r in rows} == {""}
    assert await store.pending_destinations() == ["a", "b"]
    await store.close()


async def test_stats_have_every_reported_state_and_the_documented_shape(db_url: str) -> None:
    store = await opened(db_url)
    empty = await store.stats()
    assert empty == {
        "events": {"received": 0, "duplicates": 0, "rejected": 0, "filtered": 0},
        "deliveries": dict.fromkeys(REPORTED_STATES, 0),
        "destinations": {},
        "identity": {"links": 0, "conflicts": 0},
    }
    await store.ingest([record("m1", ["a"], received_at=NOW)])
    [claimed] = await store.claim("a", 1, NOW, LEASE)
    await store.record([outcome(claimed, "delivered", actions="logEvent,identify")])
    stats = await store.stats()
    entry = stats["destinations"]["a"]
    assert set(entry["total"]) == set(REPORTED_STATES)
    assert entry["total"]["delivered"] == 1 and entry["total"]["in_flight"] == 0
    assert set(entry["actions"]) == {"logEvent", "identify"}
    assert entry["actions"]["logEvent"]["delivered"] == 1
    assert entry["actions"]["identify"]["delivered"] == 1
    await store.close()


async def test_events_feeding_no_destination_are_still_counted(db_url: str) -> None:
    store = await opened(db_url)
    result = await store.ingest([record("m1", [], received_at=NOW)])
    assert result.accepted == 1
    stats = await store.stats()
    assert stats["events"]["received"] == 1 and stats["destinations"] == {}
    assert await store.list_deliveries() == []
    await store.close()


async def test_duplicates_within_the_window_create_nothing(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record("m1", received_at=NOW - 10)])
    result = await store.ingest(
        [record("m1", received_at=NOW), record("m2", received_at=NOW), record("m2", ["x"])]
    )
    assert (result.accepted, result.duplicates) == (1, 2)
    stats = await store.stats()
    assert stats["events"] == {"received": 2, "duplicates": 2, "rejected": 0, "filtered": 0}
    assert stats["deliveries"]["pending"] == 2
    assert "x" not in stats["destinations"]  # the duplicate's destinations got nothing
    assert len(await store.list_deliveries(DeliveryQuery(message_id="m1"))) == 1
    await store.close()


async def test_a_message_id_older_than_the_window_is_accepted_again(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "q.db"), dedupe_window=60)
    await store.open()
    await store.ingest([record("m1", received_at=1000.0)])
    at_edge = await store.ingest([record("m1", received_at=1060.0)])
    assert (at_edge.accepted, at_edge.duplicates) == (0, 1)
    beyond = await store.ingest([record("m1", received_at=1061.0)])
    assert (beyond.accepted, beyond.duplicates) == (1, 0)
    assert len(await store.list_deliveries(DeliveryQuery(message_id="m1"))) == 2
    await store.close()


async def test_rejected_events_are_kept_apart_and_never_delivered(db_url: str) -> None:
    store = await opened(db_url)
    problems = ("The root value is missing the required field 'type'.",)
    bad = record("m-bad", ["a"], received_at=NOW, event={"messageId": "m-bad"}, problems=problems)
    result = await store.ingest([bad, record("m-ok", ["a"], received_at=NOW)])
    assert (result.accepted, result.duplicates, result.rejected) == (1, 0, 1)
    stats = await store.stats()
    assert stats["events"]["rejected"] == 1 and stats["events"]["received"] == 1
    assert stats["deliveries"]["pending"] == 1
    [rejected] = await store.list_rejected()
    assert rejected["message_id"] == "m-bad" and rejected["source"] == "web"
    assert rejected["event"] == {"messageId": "m-bad"}
    assert rejected["problems"] == list(problems)
    assert [c.message_id for c in await store.claim("a", 10, NOW, LEASE)] == ["m-ok"]
    await store.close()


async def test_list_rejected_is_newest_first_and_limited(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest(
        [record(f"r{i}", received_at=NOW, problems=(f"problem {i}",)) for i in range(3)]
    )
    assert [r["message_id"] for r in await store.list_rejected(limit=2)] == ["r2", "r1"]
    await store.close()


async def test_an_item_the_database_refuses_does_not_cost_the_others(db_url: str) -> None:
    store = await opened(db_url)
    broken = replace(record("m-bad", received_at=NOW), body=None)  # type: ignore[arg-type]
    result = await store.ingest(
        [record("m1", received_at=NOW), broken, record("m2", received_at=NOW)]
    )
    assert result.accepted == 2
    assert list(result.failed) == [1] and "IntegrityError" in result.failed[1]
    stored = {r["message_id"] for r in await store.list_deliveries()}
    assert stored == {"m1", "m2"}
    assert (await store.stats())["events"]["received"] == 2
    await store.close()


async def test_a_refused_item_does_not_make_its_twin_a_duplicate(db_url: str) -> None:
    store = await opened(db_url)
    broken = replace(record("m1", received_at=NOW), body=None)  # type: ignore[arg-type]
    result = await store.ingest([broken, record("m1", received_at=NOW)])
    try:
        assert list(result.failed) == [0]
        assert (result.accepted, result.duplicates) == (1, 0)
    finally:
        await store.close()


# -- identity links ------------------------------------------------------------------------


def identifier(message_id: str, code: str, at: float = NOW, *ids: str) -> EventRecord:
    return replace(
        record(message_id, received_at=at), identity_ids=ids or ("userId:u1",), link_code=code
    )


def resolving(message_id: str, at: float = NOW, *ids: str) -> EventRecord:
    return replace(
        record(message_id, received_at=at), identity_ids=ids or ("userId:u1",), resolve_code=True
    )


async def test_a_linking_event_links_and_a_later_event_gets_the_code(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([identifier("m-link", "vc-1", NOW, "userId:u1", "anonymousId:a1")])
    assert await store.linked_code(["userId:u1"]) == "vc-1"
    assert await store.linked_code(["userId:nobody", "anonymousId:a1"]) == "vc-1"
    assert await store.linked_code(["userId:nobody"]) is None
    await store.ingest(
        [
            resolving("m-later", NOW + 1),
            resolving("m-unknown", NOW + 1, "userId:u2"),
            record("m-plain", received_at=NOW + 1),
        ]
    )
    claimed = {c.message_id: c for c in await store.claim("kameleoon", 10, NOW + 1, LEASE)}
    assert claimed["m-later"].visitor_code == "vc-1"
    assert claimed["m-unknown"].visitor_code is None
    assert claimed["m-plain"].visitor_code is None
    assert claimed["m-link"].visitor_code is None  # the linking event carries its own code
    assert (await store.stats())["identity"] == {"links": 2, "conflicts": 0}
    await store.close()


async def test_a_link_is_seen_by_later_items_of_the_same_batch(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([identifier("m-link", "vc-1"), resolving("m-next")])
    claimed = {c.message_id: c for c in await store.claim("kameleoon", 10, NOW, LEASE)}
    assert claimed["m-next"].visitor_code == "vc-1"
    await store.close()


async def test_a_duplicate_identifier_event_links_nothing(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([identifier("m-link", "vc-1")])
    result = await store.ingest([identifier("m-link", "vc-2", NOW + 1, "userId:u1", "userId:u9")])
    assert result.duplicates == 1
    assert await store.linked_code(["userId:u1"]) == "vc-1"
    assert await store.linked_code(["userId:u9"]) is None
    assert (await store.stats())["identity"] == {"links": 1, "conflicts": 0}
    await store.close()


async def test_relinking_to_another_code_counts_a_conflict(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([identifier("m1", "vc-1")])
    await store.ingest([identifier("m2", "vc-1", NOW + 1)])  # same code: no conflict
    assert (await store.stats())["identity"]["conflicts"] == 0
    await store.ingest([identifier("m3", "vc-2", NOW + 2)])
    assert await store.linked_code(["userId:u1"]) == "vc-2"  # the newest link wins
    assert (await store.stats())["identity"] == {"links": 1, "conflicts": 1}
    await store.close()


# -- claim and leases ----------------------------------------------------------------------


async def test_claim_takes_due_rows_of_one_destination_up_to_the_limit(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record(f"m{i}", ["a", "b"], received_at=NOW) for i in range(5)])
    first = await store.claim("a", 3, NOW, LEASE)
    assert len(first) == 3 and {c.destination for c in first} == {"a"}
    c = first[0]
    assert (c.source, c.message_id, c.attempts, c.lease) == ("web", "m0", 0, NOW + LEASE)
    assert orjson.loads(c.body) == track("m0")
    assert c.window_start == NOW and c.done == frozenset()
    second = await store.claim("a", 10, NOW, LEASE)
    assert len(second) == 2
    assert {d.id for d in first}.isdisjoint(d.id for d in second)
    assert await store.claim("a", 10, NOW, LEASE) == []
    assert await store.claim("a", 0, NOW, LEASE) == []
    stats = await store.stats()
    assert stats["destinations"]["a"]["total"]["in_flight"] == 5
    assert stats["destinations"]["b"]["total"]["pending"] == 5
    assert await store.pending_destinations() == ["a", "b"]  # in flight still counts
    await store.close()


async def test_claim_returns_the_exact_event_bytes(db_url: str) -> None:
    store = await opened(db_url)
    exact = b'{"type":"track","messageId":"m1","n":1.0}'  # not what re-serialising gives
    await store.ingest([replace(record("m1", received_at=NOW), body=exact)])
    [claimed] = await store.claim("kameleoon", 1, NOW, LEASE)
    assert claimed.body == exact
    await store.close()


async def test_claim_leaves_rows_that_are_not_due_yet(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record("m1", received_at=NOW)])
    assert await store.claim("kameleoon", 10, NOW - 5, LEASE) == []
    assert len(await store.claim("kameleoon", 10, NOW, LEASE)) == 1
    await store.close()


async def test_in_flight_work_is_claimed_again_only_after_its_lease(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record("m1", received_at=NOW)])
    [first] = await store.claim("kameleoon", 10, NOW, LEASE)
    assert await store.claim("kameleoon", 10, NOW + LEASE - 1, LEASE) == []
    assert await store.claim("kameleoon", 10, NOW + LEASE, LEASE) == []  # lease still holds
    [again] = await store.claim("kameleoon", 10, NOW + LEASE + 1, LEASE)
    assert again.id == first.id and again.lease == NOW + 2 * LEASE + 1
    assert again.attempts == 0  # an expired lease is no attempt
    # The first worker's late outcome is ignored; the current lease's counts.
    assert await store.record([outcome(first, "delivered")]) == 0
    detail = await store.get_delivery(first.id)
    assert detail is not None and detail["state"] == "in_flight" and detail["history"] == []
    assert await store.record([outcome(again, "delivered", NOW + LEASE + 2)]) == 1
    assert await store.record([outcome(again, "dead", NOW + LEASE + 3)]) == 0  # already done
    detail = await store.get_delivery(first.id)
    assert detail is not None and (detail["state"], detail["attempts"]) == ("delivered", 1)
    await store.close()


async def test_subscriptions_already_done_come_back_with_the_retry(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record("m1", received_at=NOW)])
    [claimed] = await store.claim("kameleoon", 1, NOW, LEASE)
    await store.record(
        [
            outcome(
                claimed,
                "pending",
                done=frozenset({"Track Calls"}),
                next_attempt_at=NOW + 10,
                status=503,
            )
        ]
    )
    [again] = await store.claim("kameleoon", 1, NOW + 10, LEASE)
    assert again.done == frozenset({"Track Calls"}) and again.attempts == 1
    await store.close()


# -- record: attempts and states -----------------------------------------------------------


def sent(
    outcome_: str, status: int | None, body: bytes = b'{"n":1}', **fields: object
) -> SentRequest:
    return SentRequest(
        "Track Calls",
        "logEvent",
        outcome_,
        url="https://api.example/track",
        headers={"authorization": "Basic ***", "x-segment-settings": "abcdefghij"},
        body=body,
        status=status,
        **fields,  # type: ignore[arg-type]
    )


async def test_retry_then_deliver_updates_state_attempts_and_history(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record("m1", received_at=NOW)])
    [claimed] = await store.claim("kameleoon", 1, NOW, LEASE)
    retry = outcome(
        claimed,
        "pending",
        actions="logEvent",
        requests=(sent("retry", 503, error="HTTP 503", response="busy", latency=0.5),),
        status=503,
        error="HTTP 503",
        next_attempt_at=NOW + 30,
        latency=0.5,
    )
    assert await store.record([retry]) == 1
    stats = await store.stats()
    assert stats["deliveries"]["retrying"] == 1 and stats["deliveries"]["pending"] == 0
    assert stats["destinations"]["kameleoon"]["actions"]["logEvent"]["retrying"] == 1
    assert [r["state"] for r in await store.list_deliveries()] == ["retrying"]
    assert await store.claim("kameleoon", 1, NOW + 29, LEASE) == []
    [again] = await store.claim("kameleoon", 1, NOW + 30, LEASE)
    assert again.attempts == 1 and again.window_start == NOW
    delivered = outcome(
        again,
        "delivered",
        NOW + 30,
        actions="logEvent",
        requests=(sent("delivered", 200, b'{"n":2}', response="{}"),),
        status=200,
    )
    assert await store.record([delivered]) == 1
    detail = await store.get_delivery(claimed.id)
    assert detail is not None
    assert (detail["state"], detail["attempts"], detail["last_status"]) == ("delivered", 2, 200)
    assert detail["last_error"] is None and detail["last_attempt_at"] == NOW + 30
    assert detail["event"]["messageId"] == "m1"
    assert [(a["outcome"], a["status"], a["error"]) for a in detail["history"]] == [
        ("retry", 503, "HTTP 503"),
        ("delivered", 200, None),
    ]
    first = detail["history"][0]
    assert first["request"] == {
        "method": "POST",
        "url": "https://api.example/track",
        "headers": {"authorization": "Basic ***", "x-segment-settings": "abcdefghij"},
        "json": {"n": 1},
    }
    assert (first["response"], first["latency"], first["subscription"]) == (
        "busy",
        0.5,
        "Track Calls",
    )
    assert detail["request"]["json"] == {"n": 2}  # the last request sent
    assert detail["response"] == "{}"
    stats = await store.stats()
    assert stats["deliveries"]["delivered"] == 1 and stats["deliveries"]["retrying"] == 0
    assert await store.pending_destinations() == []
    await store.close()


async def test_requests_that_were_not_sent_or_not_json_are_shown_as_such(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record("m1", received_at=NOW)])
    [claimed] = await store.claim("kameleoon", 1, NOW, LEASE)
    not_json = sent("failed", 400, b"a=1&b=2", response="bad")
    unsent = SentRequest("Identify", "identify", "failed", error="mapping: missing userId")
    await store.record([outcome(claimed, "failed", requests=(not_json, unsent), status=400)])
    detail = await store.get_delivery(claimed.id)
    assert detail is not None and detail["state"] == "failed"
    shown, none = detail["history"][0]["request"], detail["history"][1]["request"]
    assert shown["body"] == "a=1&b=2" and "json" not in shown
    assert none is None and detail["history"][1]["error"] == "mapping: missing userId"
    assert detail["request"] == shown  # the last request actually sent
    assert await store.get_delivery(12345) is None
    await store.close()


async def test_failed_dead_and_filtered_outcomes(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record(f"m{i}", received_at=NOW) for i in range(4)])
    one, two, three, four = await store.claim("kameleoon", 10, NOW, LEASE)
    long_reason = "x" * 500
    recorded = await store.record(
        [
            outcome(one, "failed", status=400, error="HTTP 400"),
            outcome(two, "dead", status=503, error="gave up: HTTP 503"),
            outcome(three, "filtered", filtered=("Drop Bots", "context.userAgent matches bot")),
            outcome(four, "filtered", filtered=("Drop Bots", long_reason)),
        ]
    )
    assert recorded == 4
    stats = await store.stats()
    assert {k: v for k, v in stats["deliveries"].items() if v} == {
        "failed": 1,
        "dead": 1,
        "filtered": 2,
    }
    assert stats["events"]["filtered"] == 2
    assert stats["destinations"]["kameleoon"]["filtered"] == {
        "Drop Bots": {
            "events": 2,
            "reasons": {"context.userAgent matches bot": 1, "x" * 300: 1},
        }
    }
    detail = await store.get_delivery(two.id)
    assert detail is not None
    assert (detail["state"], detail["last_status"], detail["last_error"]) == (
        "dead",
        503,
        "gave up: HTTP 503",
    )
    assert await store.claim("kameleoon", 10, NOW + 1000, LEASE) == []  # all final
    await store.close()


async def test_list_deliveries_filters(db_url: str) -> None:
    store = await opened(db_url)
    for i in range(3):
        await store.ingest(
            [record(f"m{i}", ["a", "b"], received_at=NOW + i * 100, user_id=f"u{i % 2}")]
        )
    m0, m1, _ = await store.claim("a", 3, NOW + 1000, LEASE)
    await store.record(
        [
            outcome(m0, "dead", error="gave up", actions="logEvent"),
            outcome(m1, "pending", status=503, next_attempt_at=NOW + 2000, actions="identify"),
        ]
    )

    async def ids(limit: int = 50, **query: object) -> list[tuple[str, str]]:
        rows = await store.list_deliveries(DeliveryQuery(**query), limit=limit)  # type: ignore[arg-type]
        return [(r["message_id"], r["destination"]) for r in rows]

    assert await ids(states=("dead",)) == [("m0", "a")]
    assert await ids(states=("retrying",)) == [("m1", "a")]
    assert await ids(states=("pending",)) == [("m2", "b"), ("m1", "b"), ("m0", "b")]
    assert await ids(states=("in_flight",)) == [("m2", "a")]
    assert await ids(states=("dead", "retrying")) == [("m1", "a"), ("m0", "a")]
    assert await ids(destination="b", states=("pending",), message_id="m1") == [("m1", "b")]
    assert await ids(user_id="u0", destination="a") == [("m2", "a"), ("m0", "a")]
    assert await ids(action="identify") == [("m1", "a")]
    assert await ids(since=NOW + 100, until=NOW + 200) == [("m1", "b"), ("m1", "a")]
    assert await ids(since=NOW + 200) == [("m2", "b"), ("m2", "a")]
    assert await ids(until=NOW) == []
    # Newest first, paged by id.
    page1 = await store.list_deliveries(limit=4)
    assert len(page1) == 4 and [r["id"] for r in page1] == sorted(
        (r["id"] for r in page1), reverse=True
    )
    page2 = await store.list_deliveries(DeliveryQuery(before_id=page1[-1]["id"]), limit=4)
    assert len(page2) == 2 and page2[0]["id"] < page1[-1]["id"]
    everything = {r["id"] for r in page1} | {r["id"] for r in page2}
    assert len(everything) == 6
    assert "event" not in page1[0] and "body" not in page1[0]  # summaries only
    await store.close()


# -- the thread, the file ------------------------------------------------------------------


async def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    store = await opened(f"sqlite:///{tmp_path / 'relay.db'}")
    assert isinstance(store, SQLiteStore)
    before = store.commits
    await asyncio.gather(*(store.ingest([record(f"m{i}")]) for i in range(200)))
    assert (await store.stats())["events"]["received"] == 200
    # Group commit: 200 acknowledged ingests needed far fewer fsync'd transactions.
    assert store.commits - before < 200
    await store.close()


async def test_a_failing_job_does_not_undo_the_others_in_its_batch(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record("m0", received_at=NOW)])
    [claimed] = await store.claim("kameleoon", 1, NOW, LEASE)
    # An attempt row without an outcome breaks NOT NULL after the delivery was updated.
    bad = outcome(claimed, "delivered", requests=(SentRequest(None, None, None),))  # type: ignore[arg-type]
    results = await asyncio.gather(
        store.ingest([record("m1", received_at=NOW)]),
        store.record([bad]),
        store.ingest([record("m2", received_at=NOW)]),
        return_exceptions=True,
    )
    assert "IntegrityError" in {cls.__name__ for cls in type(results[1]).__mro__}
    assert (await store.stats())["events"]["received"] == 3
    detail = await store.get_delivery(claimed.id)
    assert detail is not None and detail["state"] == "in_flight"  # rolled back alone
    await store.close()


async def test_using_a_closed_store_is_a_clear_error(db_url: str) -> None:
    store = open_store(db_url, dedupe_window=WINDOW)
    with pytest.raises(RuntimeError, match="not open"):
        await store.stats()


async def test_a_new_database_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "relay.db"
    old = os.umask(0o022)
    try:
        store = await opened(f"sqlite:///{path}")
        await store.ingest([record("m1", received_at=NOW)])
        modes = {
            suffix: os.stat(f"{path}{suffix}").st_mode & 0o777 for suffix in ("", "-wal", "-shm")
        }
        await store.close()
    finally:
        os.umask(old)
    assert modes == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    assert os.stat(path.parent).st_mode & 0o777 == 0o700


async def test_released_claims_are_pending_again_without_an_attempt(db_url: str) -> None:
    store = await opened(db_url)
    await store.ingest([record(f"r{i}", received_at=NOW) for i in range(5)])
    sent, *unsent = await store.claim("kameleoon", 5, NOW, LEASE)
    assert len(unsent) == 4
    assert await store.record([outcome(sent, "delivered", NOW + 1)]) == 1
    assert await store.release([sent, *unsent]) == 4  # the recorded one is not in flight
    stats = (await store.stats())["deliveries"]
    assert (stats["delivered"], stats["in_flight"], stats["pending"]) == (1, 0, 4)
    for claimed in unsent:
        detail = await store.get_delivery(claimed.id)
        assert detail is not None and (detail["state"], detail["attempts"]) == ("pending", 0)
    # Released work is claimed again at once, by anyone; an old claim releases nothing.
    again = await store.claim("kameleoon", 10, NOW + 2, LEASE)
    assert sorted(c.id for c in again) == sorted(c.id for c in unsent)
    assert await store.release(unsent) == 0
    assert (await store.stats())["deliveries"]["in_flight"] == 4
    await store.close()
