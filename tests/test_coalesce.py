"""`Coalesced`: one run at a time; requests during a run make exactly one more."""

from __future__ import annotations

import asyncio

from kameleoon_relay.coalesce import Coalesced


def test_requests_during_a_run_make_one_more_run_which_sees_the_last_state() -> None:
    seen: list[int] = []
    state = [0]

    async def job() -> None:
        seen.append(state[0])
        await asyncio.sleep(0.01)

    async def main() -> None:
        runs = Coalesced(job)
        runs.request()
        await asyncio.sleep(0)  # the first run starts, sees 0
        for value in range(1, 50):
            state[0] = value
            runs.request()
            await asyncio.sleep(0)
        await runs.wait()
        assert runs.runs == 2
        runs.request()  # idle again: runs at once
        await runs.wait()

    asyncio.run(main())
    assert seen == [0, 49, 49]
