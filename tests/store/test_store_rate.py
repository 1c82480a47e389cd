"""The shared rate limit's reservations, on both stores: GCRA's next-send time in the
database, so that every process and relay on it draws from one limit."""

from __future__ import annotations

import asyncio

import pytest

from kameleoon_relay.store import Store, open_store

NOW = 1_700_000_000.0


async def opened(url: str, recover: bool = True) -> Store:
    store = open_store(url, dedupe_window=3600.0)
    await store.open(recover=recover)  # recover=False: a relay's delivery process
    return store


async def test_reservations_follow_each_other_and_start_now_after_idle(db_url: str) -> None:
    store = await opened(db_url)
    try:
        name = f"dest-{id(store)}"
        # 10 sends a second: 5 at a time is half a second of the limit.
        assert await store.reserve_rate(name, 5, 0.1, NOW) == NOW
        assert await store.reserve_rate(name, 5, 0.1, NOW) == NOW + 0.5
        assert await store.reserve_rate(name, 1, 0.1, NOW + 0.2) == NOW + 1.0
        # Idle for a while: no credit is saved up, the next starts at its own now.
        assert await store.reserve_rate(name, 2, 0.1, NOW + 60) == NOW + 60
        assert await store.reserve_rate("other", 1, 0.1, NOW) == NOW  # per destination
    finally:
        await store.close()


async def test_two_stores_on_one_database_share_one_limit(db_url: str) -> None:
    first, second = await opened(db_url), await opened(db_url, recover=False)
    try:
        name = f"shared-{id(first)}"
        starts = await asyncio.gather(
            *(store.reserve_rate(name, 10, 0.01, NOW) for store in (first, second) * 5)
        )
        # Ten reservations of 0.1 s each, none overlapping: one second in all, not 0.1 s.
        assert sorted(s - NOW for s in starts) == pytest.approx([0.1 * i for i in range(10)])
    finally:
        await first.close()
        await second.close()
