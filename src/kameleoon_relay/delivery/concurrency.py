"""How many requests one destination may have in flight: adaptive, as Vector's Adaptive
Request Concurrency (AIMD on round-trip time), with TCP's slow start in front.

Once per interval (the mean round trip so far), the interval's mean RTT of successful
requests is compared with an EWMA (alpha 0.4) of the past intervals' means and its
deviation:

- push-back (429, 503, other retryable answers, timeouts, connection errors) or an RTT at
  or above mean + 2.5 deviations: the limit is multiplied by 0.9;
- the relay itself is the bottleneck (its event loop answers late: over half the RTT is
  spent waiting for our own loop, so more in flight would only queue here): x 0.9 too,
  but never below the initial limit on that ground alone;
- every `QUEUE_PROBE_EVERY` seconds the limit is cut to 3/4 for one interval: when the
  RTT falls with it, requests were only queueing at the endpoint (the latency dropped, or
  the endpoint is saturated): the cut is kept and tried again, else the limit comes back;
- the limit not used (at most half of it in flight all interval: less work than room):
  it comes halfway down to twice what was used, not below the initial limit (as TCP's
  congestion window validation), so a limit grown for a far endpoint does not stay there
  when the endpoint comes near again;
- the limit was reached, no push-back, RTT normal: in slow start the limit doubles,
  or grows fourfold while the RTT is under `FAST_START_RTT` times the least (a cold
  relay gets from 16 to the ~1,000 that a 100 ms endpoint needs in ~3 round trips,
  the first round counting too), once the rest of the round is answered with no
  push-back; else +1; after `REPROBE_AFTER` such intervals in a row, slow start again, so that a
  longer round trip (the endpoint moved away) is followed in seconds, not minutes.
  In slow start "normal" is under `SLOW_START_EXIT` times the least RTT seen since it began (as
  HyStart++ tolerates a little delay): each doubling opens as many new connections as
  are in use, and their handshakes lift the mean a little; a deviation test would end
  slow start at the first doubling, far below what a distant endpoint needs.
  And while a round still delivers `FULL_PIPE_GROWTH` times the best before, the pipe
  is not full (BBR's startup): a longer RTT then is our own loop busy with the doubling.
- RTT alone (congestion, self-bound, the queue probe) never cuts under `path_floor()`,
  twice the best recent delivery rate times the least recent RTT; push-back does.

A fixed `delivery.concurrency` keeps the limit where it is but still measures RTTs.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

ALPHA = 0.4  # EWMA weight of the latest interval (Vector's)
DEVIATION_SCALE = 2.5  # RTT this many deviations over the mean: congestion (Vector's)
DECREASE = 0.9  # multiplicative decrease (Vector's)
# A steady RTT has almost no deviation: wobbles under this share of the mean are noise.
MIN_TOLERANCE = 0.1
MIN_INTERVAL = 0.02  # seconds: at 0 ms away, adjust every 20 ms, not every request
SELF_BOUND_SHARE = 0.5  # loop lag over this share of the RTT: the relay is the bottleneck
SELF_BOUND_MIN_LAG = 0.002  # seconds; below it the loop is not what holds requests
REPROBE_AFTER = 5  # clean intervals in a row before doubling again
QUEUE_PROBE_EVERY = 5.0  # seconds between checks for a queue of ours at the endpoint
QUEUE_PROBE_CUT = 0.75  # the limit for one interval during such a check
QUEUE_PROBE_GAIN = 0.15  # RTT falling by this share with the cut: it was a queue
SLOW_START_EXIT = 1.5  # in slow start, an RTT this many times the least seen is congestion
BDP_GAIN = 2.0  # in flight kept, at least, over what the path holds (BBR's window gain)
RATE_INTERVALS = 10  # the best delivery rate of this many intervals (BBR's filter)
LEAST_RTT_SECONDS = 10.0  # the least RTT of this many seconds (BBR's min_rtt filter)
FAST_START_RTT = 1.2  # in slow start, an RTT under this many times the least: x4 a round
FULL_PIPE_GROWTH = 1.25  # a round delivering less than this times the best before: full


@dataclass(frozen=True, slots=True)
class LimitState:
    """What the gauges, `status` and the dashboard show."""

    limit: int
    in_flight: int
    rtt_mean: float | None  # seconds, the last interval's mean
    rtt_ewma: float | None
    slow_start: bool


class ConcurrencyLimit:
    """`started()` when a request goes out, `finished(now, rtt, back_pressure)` when it is
    answered (rtt of a success only), `room()` says whether another may go."""

    def __init__(self, initial: int, maximum: int, *, adaptive: bool = True) -> None:
        self.limit = max(1, min(initial, maximum))
        self.initial = self.limit
        self.maximum = maximum
        self.adaptive = adaptive
        self.in_flight = 0
        self.slow_start = adaptive
        self.loop_lag = 0.0  # seconds our own event loop takes to get back to a task
        self.last_rtt: float | None = None
        self._mean: float | None = None  # EWMA of interval means
        self._least: float | None = None  # the least interval mean seen
        self._variance = 0.0
        self._sum = 0.0
        self._samples = 0
        self._back_pressure = False
        self._reached = False
        self._peak = 0  # most in flight this interval
        self._round_left = 0  # answers still to come before slow start's next step
        self._round_rtt = 0.0  # the RTT that step was decided on
        self._clean = 0
        self._next_update = 0.0
        self._probe: tuple[int, float] | None = None  # (limit before the cut, RTT then)
        self._next_probe = 0.0
        self._interval_start = 0.0
        self._rates: collections.deque[float] = collections.deque(maxlen=RATE_INTERVALS)
        self._rtts: collections.deque[tuple[float, float]] = collections.deque()  # (when, mean)

    def room(self) -> bool:
        return self.in_flight < self.limit

    def started(self) -> None:
        self.in_flight += 1
        self._peak = max(self._peak, self.in_flight)
        if self.in_flight >= self.limit:
            self._reached = True

    def finished(self, now: float, rtt: float | None, back_pressure: bool) -> None:
        self.in_flight -= 1
        if back_pressure:
            self._back_pressure = True
        if rtt is not None:
            self._sum += rtt
            self._samples += 1
        if self._round_left:
            self._round_left = 0 if back_pressure else self._round_left - 1
            if not self._round_left and not back_pressure:
                self._grow(self._round_rtt)
        if now >= self._next_update:
            self._interval_ended(now)

    def state(self) -> LimitState:
        return LimitState(self.limit, self.in_flight, self.last_rtt, self._mean, self.slow_start)

    def _interval_ended(self, now: float) -> None:
        current = self._sum / self._samples if self._samples else None
        self._track_path(now, current)
        if self._mean is None:
            if current is None and not self._back_pressure:
                return
            if current is not None:  # the first interval: the baseline
                self._mean, self.last_rtt, self._least = current, current, current
                if self.adaptive and self._reached and not self._back_pressure:
                    self._grow_after_round(current)  # its round counts too
            elif self.adaptive:  # push-back before any success
                self._decrease()
        else:
            self._round_left = 0  # a whole interval went by: decided afresh here
            if self.adaptive:
                self._adjust(now, current)
            if current is not None:
                self.last_rtt = current
                self._least = current if self._least is None else min(self._least, current)
                diff = current - self._mean
                self._mean += ALPHA * diff
                self._variance = (1 - ALPHA) * (self._variance + diff * ALPHA * diff)
        self._next_update = now + max(self._mean or 0.0, MIN_INTERVAL)
        self._sum, self._samples = 0.0, 0
        self._back_pressure = self._reached = False
        self._peak = self.in_flight

    def _adjust(self, now: float, current: float | None) -> None:
        assert self._mean is not None
        tolerance = max(DEVIATION_SCALE * math.sqrt(self._variance), MIN_TOLERANCE * self._mean)
        if self._probe is not None and not self._back_pressure:
            before, rtt_before = self._probe
            self._probe = None
            if current is not None and current <= rtt_before * (1 - QUEUE_PROBE_GAIN):
                self._next_probe = now  # a queue: keep the cut, try another
            else:
                self.limit = max(self.limit, before)
                self._next_probe = now + QUEUE_PROBE_EVERY
            return
        self._probe = None
        probe_due = now >= self._next_probe and self.limit > self.initial and not self.slow_start
        cut = max(self.initial, int(self.limit * QUEUE_PROBE_CUT))
        probe_due = probe_due and cut >= self.path_floor()
        if probe_due and self._reached and current is not None and not self._back_pressure:
            self._probe = (self.limit, current)
            self.limit = cut
            return
        if self._back_pressure:
            self._decrease()
        elif current is not None and self._congested(current, tolerance):
            self._decrease(self.path_floor())
        elif not self._reached and 2 * self._peak <= self.limit:
            self.limit = max(self.initial, (self.limit + 2 * self._peak) // 2)
        elif current is not None and self._self_bound(current):
            self._clean = 0
            self.slow_start = False
            floor = max(self.initial, self.path_floor())
            if self.limit > floor:
                self.limit = max(floor, int(self.limit * DECREASE))
        elif self._reached and current is not None:
            if self.slow_start:
                self._grow_after_round(current)
            elif current <= self._mean + tolerance:
                self.limit = min(self.maximum, self.limit + 1)
                self._clean += 1
                if self._clean >= REPROBE_AFTER:
                    self.slow_start, self._clean = True, 0
                    self._least = (
                        self._mean
                    )  # the round trip as it is now: the path may have changed

    def _grow_after_round(self, current: float) -> None:
        """Slow start steps once the requests in flight now (the rest of this round) are
        answered with no push-back: a rate-limited endpoint answers a burst with successes
        first, then 429s, and a step taken at the first success would send a burst four
        times larger into the limit before the 429s arrive."""
        self._round_left, self._round_rtt = self.in_flight, current
        if not self._round_left:
            self._grow(current)

    def _grow(self, current: float) -> None:
        """Slow start's step: a round trip as short as the least seen means nothing queues
        yet anywhere, so x4 (16 -> 1,024 in 3 round trips, not 6); x2 once it rises."""
        clean = self._least is not None and current < FAST_START_RTT * self._least
        self.limit = min(self.maximum, self.limit * (4 if clean else 2))

    def _congested(self, current: float, tolerance: float) -> bool:
        if self.slow_start and self._least is not None:
            # While each round still delivers much more than the ones before, the pipe is
            # not full (BBR's startup): a longer RTT then is our own loop busy with the
            # doubling, not the endpoint's queue.
            return current >= SLOW_START_EXIT * self._least and not self._rate_growing()
        return current >= self._mean + tolerance

    def _self_bound(self, current: float) -> bool:
        return self.loop_lag > SELF_BOUND_MIN_LAG and self.loop_lag > SELF_BOUND_SHARE * current

    def _decrease(self, floor: int = 1) -> None:
        self.slow_start = False
        self._clean = 0
        self.limit = max(1, min(self.limit, floor), int(self.limit * DECREASE))

    def _track_path(self, now: float, current: float | None) -> None:
        span = now - self._interval_start
        if span > 0 and self._samples:
            self._rates.append(self._samples / span)
        if current is not None:
            self._rtts.append((now, current))
        while self._rtts and self._rtts[0][0] < now - LEAST_RTT_SECONDS:
            self._rtts.popleft()
        self._interval_start = now

    def _rate_growing(self) -> bool:
        rates = list(self._rates)
        return len(rates) >= 2 and rates[-1] >= FULL_PIPE_GROWTH * max(rates[:-1])

    def path_floor(self) -> int:
        """What the path itself holds, twice over: the best recent delivery rate times the
        least recent RTT (BBR's bandwidth-delay product and window gain). This many in
        flight queue a path's worth at most, here or at the endpoint; when our own CPU
        is what lengthens the RTT, cutting under it only idles the path. So RTT alone
        never cuts under it, and a far endpoint keeps what its distance needs. Push-back
        (429, 503, timeouts) still does."""
        if not self._rates or not self._rtts:
            return 1
        least = min(rtt for _, rtt in self._rtts)
        return min(self.maximum, int(BDP_GAIN * max(self._rates) * least))
