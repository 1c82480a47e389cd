"""The adaptive limit and the throttle: pure state machines, driven with explicit clocks."""

from __future__ import annotations

from kameleoon_relay.delivery.concurrency import ConcurrencyLimit
from kameleoon_relay.delivery.throttle import Throttle


def run_interval(
    limit: ConcurrencyLimit,
    now: float,
    rtt: float,
    back_pressure: bool = False,
    delivered: int | None = None,
):
    """Fill the limit, answer every request with `rtt` (only `delivered` of them, when
    given: the rest come back with no sample), end the interval at `now`."""
    sent = limit.limit
    for _ in range(sent):
        limit.started()
    for index in range(sent):
        answered = delivered is None or index < delivered
        sample = rtt if answered and not back_pressure else None
        limit.finished(now, sample, back_pressure)


def test_slow_start_grows_until_push_back_then_decreases_by_a_tenth() -> None:
    limit = ConcurrencyLimit(16, 100_000)
    now = 0.2
    run_interval(limit, now, 0.1)  # the first interval sets the baseline, and grows too
    assert limit.limit == 16 * 4
    for _ in range(3):  # the RTT as short as the least: four times a round
        now += 0.2
        run_interval(limit, now, 0.1)
    assert limit.limit == 16 * 4**4
    for _ in range(2):  # 30% longer (a queue begins): twice a round
        now += 0.2
        run_interval(limit, now, 0.13)
    grown = limit.limit
    assert grown in (16 * 4**4 * 2, 16 * 4**4 * 4, 16 * 4**4 * 8)  # doublings only
    now += 0.2
    run_interval(limit, now, 0.1, back_pressure=True)
    assert limit.limit == int(grown * 0.9)
    assert not limit.slow_start


def test_slow_start_steps_only_once_a_round_is_answered_with_no_push_back() -> None:
    # A limited endpoint: a burst's first answers are successes, the rest 429s. The step
    # is not taken at the first success, so no burst four times larger follows.
    limit = ConcurrencyLimit(16, 100_000)
    run_interval(limit, 0.02, 0.02)  # the baseline round: all accepted, x4 once answered
    assert limit.limit == 64
    for _ in range(64):
        limit.started()
    limit.finished(0.05, 0.02, False)  # an interval ends at the first success...
    assert limit.limit == 64  # ...but the step waits for the rest of the round
    for _ in range(20):
        limit.finished(0.05, 0.02, False)
    limit.finished(0.05, None, True)  # a 429: no step
    for _ in range(42):
        limit.finished(0.05, None, True)
    assert limit.limit == 64
    for _ in range(int(limit.limit)):
        limit.started()
    limit.finished(0.1, None, True)  # the next interval: the push-back cuts
    assert limit.limit == int(64 * 0.9)
    assert not limit.slow_start


def test_the_limit_stays_within_its_maximum_and_at_least_one() -> None:
    limit = ConcurrencyLimit(16, 40)
    now = 0.0
    for _ in range(10):
        now += 0.2
        run_interval(limit, now, 0.1)
    assert limit.limit == 40
    for _ in range(80):
        now += 0.2
        run_interval(limit, now, 0.1, back_pressure=True)
    assert limit.limit == 1


def test_a_fixed_concurrency_never_moves() -> None:
    limit = ConcurrencyLimit(8, 8, adaptive=False)
    now = 0.0
    for _ in range(5):
        now += 0.2
        run_interval(limit, now, 0.1, back_pressure=True)
    assert limit.limit == 8
    assert limit.state().rtt_mean is None  # no success: no RTT sample


def test_an_rtt_spike_is_congestion_then_a_steady_longer_rtt_is_followed_up() -> None:
    limit = ConcurrencyLimit(16, 100_000)
    now = 0.0
    for _ in range(3):
        now += 0.05
        run_interval(limit, now, 0.02)
    before = limit.limit
    # 20 -> 300 ms: a spike first, and fewer answers come back each interval.
    for _ in range(2):
        now += 0.05
        run_interval(limit, now, 0.3, delivered=before // 4)
    assert limit.limit < 4 * before  # one more step of slow start at most, then cut
    assert not limit.slow_start
    for _ in range(30):  # about 9 s of 300 ms intervals
        now += 0.3
        run_interval(limit, now, 0.3)
    assert limit.limit >= 4 * before  # re-probed with slow start: followed within seconds


def test_a_429_pauses_and_teaches_the_rate_that_was_accepted() -> None:
    throttle = Throttle()
    now = 0.0
    assert throttle.wait(now) == 0.0  # sending starts
    for i in range(300):  # 300 accepted over one second
        now = i / 300
        throttle.accepted(now)
    throttle.rate_limited(now, 2.0)
    assert throttle.wait(now) == 2.0  # the whole destination waits for Retry-After
    assert throttle.rate is not None and 280 < throttle.rate < 300
    now += 2.0
    sent, start = 0, now
    while now < start + 1.0:
        if throttle.wait(now) == 0.0:
            sent += 1
        now += 0.0005
    assert 270 <= sent <= 300  # paced just under what was accepted


def test_a_huge_or_negative_retry_after_is_bounded() -> None:
    throttle = Throttle(max_pause=60)
    throttle.rate_limited(10.0, 1e12)
    assert throttle.wait(10.0) == 60.0
    other = Throttle()
    other.rate_limited(10.0, -5)
    assert other.paused_until <= 10.0


def test_retry_after_values_that_are_odd_never_crash_and_stay_finite() -> None:
    from kameleoon_relay.delivery.policy import MAX_RETRY_AFTER, parse_retry_after

    now = 1_700_000_000.0
    assert parse_retry_after("9" * 400, now) == MAX_RETRY_AFTER  # would be inf as a float
    assert parse_retry_after("-5", now) is None  # negative: our own backoff decides
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now) == MAX_RETRY_AFTER
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now) == 0.0  # past: now
    assert parse_retry_after("١٢", now) is None  # digits, but not ASCII ones
    assert parse_retry_after("Mon, 99 Foo 2024 99:99:99 GMT", now) is None


def test_slow_start_goes_on_through_the_small_rise_new_connections_bring() -> None:
    limit = ConcurrencyLimit(16, 100_000)
    now = 0.0
    rtt = 0.1
    for _ in range(6):  # each doubling's handshakes lift the round trip by 10-30%
        now += 0.2
        run_interval(limit, now, rtt)
        rtt = 0.1 * (1.1 + 0.2 * (limit.limit % 3) / 2)
    assert limit.slow_start
    assert limit.limit >= 16 * 2**6  # six rounds, the first (the baseline) counting too
    grown = limit.limit
    for _ in range(2):  # (an interval ends at its first answer: two to see only these)
        now += 0.2
        # 1.6 times the least RTT, and no more delivered than before: the pipe is full.
        run_interval(limit, now, 0.16, delivered=grown // 2)
    assert not limit.slow_start
    assert limit.limit < 2 * grown  # cut by a tenth from where the mixed interval took it


def test_a_rate_cut_deep_by_429s_that_were_not_a_limit_is_regained_once_they_stop() -> None:
    throttle = Throttle()
    now, sent = 0.0, 0
    # 10% of answers 429 + Retry-After: 1 for 12 s (an overloaded endpoint, not a limit).
    while now < 12.0:
        if throttle.wait(now) == 0.0:
            sent += 1
            if sent % 10 == 0:
                throttle.rate_limited(now, 1.0)
            else:
                throttle.accepted(now)
        now += 0.001
    cut = throttle.rate
    assert cut is not None and cut < 100  # each pause taught a lower rate
    # Then every request is accepted, with up to 1,000 a second to send.
    while now < 40.0:
        if throttle.wait(now) == 0.0:
            throttle.accepted(now)
        now += 0.001
    assert throttle.rate is None or throttle.rate > 10 * cut  # regained, or forgotten


def drain_into_token_bucket(
    throttle: Throttle, seconds: float, limit: float, burst: float, start: float = 0.0
) -> tuple[int, int]:
    """A backlog sent through `throttle` (64 requests at most in flight) to an endpoint
    whose token bucket lets `limit` a second through with a `burst` allowance, answering
    429 + Retry-After: 1 above it: (accepted, pauses that a 429 began)."""
    round_trip = 0.02
    now, tokens, filled_at = start, burst, start
    in_flight: list[tuple[float, bool]] = []
    accepted = pauses = 0
    while now < start + seconds:
        for answer in [a for a in in_flight if a[0] <= now]:
            in_flight.remove(answer)
            if answer[1]:
                accepted += 1
                throttle.accepted(now)
            else:
                pauses += now >= throttle.paused_until
                throttle.rate_limited(now, 1.0)
        while len(in_flight) < 64 and throttle.wait(now) == 0.0:
            arrives = now + round_trip / 2
            tokens = min(burst, tokens + (arrives - filled_at) * limit)
            filled_at = arrives
            took = tokens >= 1
            tokens -= took
            in_flight.append((now + round_trip, took))
        now += 0.0005
    return accepted, pauses


def test_a_token_buckets_limit_is_fitted_from_two_stretches_and_held_just_under() -> None:
    throttle = Throttle()
    accepted, pauses = drain_into_token_bucket(throttle, 60.0, limit=300, burst=30)
    # The stretch before the first 429 and the one after its pause, of different
    # lengths: burst + limit * length for both, so the slope is the limit.
    assert throttle.fitted is not None and 290 <= throttle.fitted <= 310
    assert throttle.rate is not None and 0.95 * 300 <= throttle.rate < 300
    assert pauses <= 4  # two to learn, then a probe past the limit each 30 s at most
    assert accepted >= 0.9 * 300 * 60


def test_a_fitted_limit_that_the_endpoint_lowers_is_found_again() -> None:
    throttle = Throttle()
    drain_into_token_bucket(throttle, 20.0, limit=300, burst=30)
    assert throttle.fitted is not None and throttle.fitted > 250
    accepted, _ = drain_into_token_bucket(throttle, 20.0, limit=150, burst=15, start=20.0)
    assert throttle.rate is not None and throttle.rate < 150
    assert throttle.fitted is not None and 140 <= throttle.fitted <= 160  # fitted afresh
    assert accepted >= 0.7 * 150 * 20  # a few pauses to learn it again


def test_slow_start_goes_on_while_each_round_still_delivers_much_more() -> None:
    limit = ConcurrencyLimit(16, 1000)
    now = 0.0
    run_interval(limit, now + 0.1, 0.1)  # the baseline
    now += 0.1
    for _ in range(8):  # twice the RTT (our own loop busy), and the rate still doubles
        now += 0.1
        run_interval(limit, now, 0.2)
    assert limit.slow_start
    assert limit.limit >= 16 * 2**3  # (a round is an interval: the mean RTT, 0.2 s now)


def test_rtt_alone_never_cuts_under_what_the_path_holds() -> None:
    limit = ConcurrencyLimit(16, 1000)
    now = 0.0
    while limit.limit < 800:  # 100 ms away: 800 in flight deliver 8,000 a second
        now += 0.1
        run_interval(limit, now, 0.1)
    for _ in range(3):  # rounds at the full limit
        now += 0.1
        run_interval(limit, now, 0.1)
    assert limit.path_floor() >= 500  # twice the best rate (of a round) x the least RTT
    for _ in range(20):  # our CPU saturated: the RTT 2.5 times longer, the rate flat
        now += 0.25
        run_interval(limit, now, 0.25, delivered=800)
    # 800 a quarter second over 0.1 s of path, twice: 640 kept in flight at least.
    assert limit.path_floor() >= 600
    assert limit.limit >= 600
    for _ in range(20):  # push-back still cuts under it
        now += 0.25
        run_interval(limit, now, 0.25, back_pressure=True)
    assert limit.limit < 300  # well under the 640
