"""throttle.py with a fake clock: free failures, doubling lockouts up to the longest,
forgetting, and a bounded memory (issue 22, defect 7)."""

from __future__ import annotations

from kameleoon_relay import throttle
from kameleoon_relay.throttle import FREE_FAILURES, LONGEST, FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lockouts_double_up_to_the_longest_and_stay_per_client() -> None:
    clock = Clock()
    guard = FailureThrottle(clock)
    for _ in range(FREE_FAILURES):
        guard.failed("10.0.0.1")
        assert guard.retry_after("10.0.0.1") == 0
    waits = []
    for _ in range(12):
        guard.failed("10.0.0.1")
        waits.append(guard.retry_after("10.0.0.1"))
        clock.now += waits[-1]
    assert waits[:5] == [1, 2, 4, 8, 16]
    assert max(waits) == LONGEST and waits[-1] == LONGEST
    assert guard.retry_after("10.0.0.2") == 0  # another client: untouched


def test_a_success_or_a_quiet_spell_forgets_the_count() -> None:
    clock = Clock()
    guard = FailureThrottle(clock)
    for _ in range(FREE_FAILURES + 1):
        guard.failed("c")
    assert guard.retry_after("c") == 1
    guard.succeeded("c")
    guard.failed("c")
    assert guard.retry_after("c") == 0
    for _ in range(FREE_FAILURES):
        guard.failed("c")
    clock.now += throttle.FORGET_AFTER + 1
    guard.failed("c")  # the old count is gone: this is the first failure again
    assert guard.retry_after("c") == 0


def test_memory_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(throttle, "MAX_CLIENTS", 100)
    guard = FailureThrottle(Clock())
    for index in range(1000):
        guard.failed(f"client-{index}")
    assert len(guard._clients) == 100
    assert "client-999" in guard._clients and "client-0" not in guard._clients
