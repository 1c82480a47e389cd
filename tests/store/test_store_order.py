"""Per-user order in the claim itself, on both stores: a user's later delivery is not
claimed while an earlier one is pending, retrying or in flight; a delivered, dead, failed
or filtered one lets the next go; hot users (more waiting than the hot-user backlog, as
`hot_users` finds them) are not held; deliveries without a user key never wait."""

from __future__ import annotations

from kameleoon_relay.store import ClaimedDelivery, DeliveryOutcome, Store, UserOrder, open_store
from tests.store.store_factories import record

NOW = 1_700_000_000.0
LEASE = 30.0
PER_USER = UserOrder()


async def opened(url: str) -> Store:
    store = open_store(url, dedupe_window=3600.0)
    await store.open()
    return store


async def claim(store: Store, at: float = NOW, order: UserOrder | None = PER_USER) -> list[str]:
    return [c.message_id for c in await claimed(store, at, order)]


async def claimed(
    store: Store, at: float = NOW, order: UserOrder | None = PER_USER
) -> list[ClaimedDelivery]:
    return await store.claim("kameleoon", 50, at, LEASE, order)


async def finish(store: Store, claim: ClaimedDelivery, state: str, retry_at: float = NOW) -> None:
    outcome = DeliveryOutcome(
        claim.id,
        claim.lease,
        state,  # type: ignore[arg-type]
        NOW,
        next_attempt_at=retry_at if state == "pending" else None,
        filtered=("drop", "test") if state == "filtered" else None,
    )
    assert await store.record([outcome]) == 1


async def test_a_users_next_event_waits_for_the_earlier_one_to_end(db_url: str) -> None:
    store = await opened(db_url)
    try:
        events = [("a1", "A"), ("b1", "B"), ("a2", "A"), ("n1", None), ("a3", "A"),
                  ("a4", "A"), ("a5", "A"), ("n2", None), ("b2", "B")]  # fmt: skip
        await store.ingest([record(m, received_at=NOW, user_key=k) for m, k in events])
        first = await claimed(store)
        assert [c.message_id for c in first] == ["a1", "b1", "n1", "n2"]
        assert await claim(store) == []  # a1 and b1 are in flight: a2 and b2 wait
        a1, b1 = first[0], first[1]
        await finish(store, a1, "pending", retry_at=NOW + 10)  # a 503: a1 waits for a retry
        await finish(store, b1, "delivered")
        assert await claim(store, NOW + 1) == ["b2"]  # a2 still waits behind a1
        [a1] = await claimed(store, NOW + 11)  # a1's retry is due
        assert a1.message_id == "a1"
        await finish(store, a1, "delivered")
        for message_id, ending in (("a2", "dead"), ("a3", "failed"), ("a4", "filtered")):
            [next_one] = await claimed(store, NOW + 12)
            assert next_one.message_id == message_id
            await finish(store, next_one, ending)
        assert await claim(store, NOW + 12) == ["a5"]
    finally:
        await store.close()


async def test_without_order_every_due_delivery_is_claimed(db_url: str) -> None:
    store = await opened(db_url)
    try:
        await store.ingest([record(f"m{i}", received_at=NOW, user_key="A") for i in range(4)])
        assert await claim(store, order=None) == ["m0", "m1", "m2", "m3"]
    finally:
        await store.close()


async def test_a_hot_user_is_not_held(db_url: str) -> None:
    store = await opened(db_url)
    try:
        events = [record(f"h{i}", received_at=NOW, user_key="H") for i in range(3)]
        await store.ingest([*events, record("c0", received_at=NOW, user_key="C")])
        assert await store.hot_users("kameleoon", 3) == []  # 3 waiting: not more than 3
        assert await claim(store) == ["h0", "c0"]
        # One more waiting (in flight included): H is hot, and its events all go.
        await store.ingest([record("h3", received_at=NOW, user_key="H")])
        assert await store.hot_users("kameleoon", 3) == ["H"]
        assert await store.hot_users("other", 3) == []
        hot = UserOrder(frozenset({"H", "nobody"}))
        assert await claim(store, order=hot) == ["h1", "h2", "h3"]
    finally:
        await store.close()


async def test_replayed_events_go_in_their_original_order(db_url: str) -> None:
    store = await opened(db_url)
    try:
        await store.ingest([record(f"r{i}", received_at=NOW, user_key="R") for i in range(3)])
        for _ in range(3):
            [one] = await claimed(store)
            await finish(store, one, "dead")
        ids = [row["id"] for row in await store.list_deliveries()]
        assert await store.requeue(ids, ("dead",), NOW + 100) == 3
        order = []
        for _ in range(3):
            batch = await claimed(store, NOW + 100)
            assert len(batch) == 1  # one at a time, oldest first
            order.append(batch[0].message_id)
            await finish(store, batch[0], "delivered")
        assert order == ["r0", "r1", "r2"]
    finally:
        await store.close()


async def test_users_are_kept_apart_per_destination(db_url: str) -> None:
    store = await opened(db_url)
    try:
        await store.ingest(
            [record(f"m{i}", ("kameleoon", "other"), NOW, user_key="A") for i in range(2)]
        )
        assert await claim(store) == ["m0"]
        # The same user's first event to another destination does not wait for this one.
        other = await store.claim("other", 10, NOW, LEASE, PER_USER)
        assert [c.message_id for c in other] == ["m0"]
    finally:
        await store.close()
