"""How fast one destination may be sent to: pauses on 429, the rate learnt from 429s, and
the pacing of sends under a rate.

- A 429 with `Retry-After` pauses the whole destination for that long (bounded by
  `MAX_PAUSE` and the retry window), not just the event that got it.
- A 429 also teaches the endpoint's rate (as RudderStack's adaptive throttling), so that
  a limited endpoint sees few 429s, not a saw-tooth of them: each costs a whole pause.
  Best, the limit is fitted to the stretches between pauses (`_fit`): two of different
  lengths give it, burst allowance and all; sends are held `PROVISIONAL_OVER` it until
  a stretch ends that makes the fit firm, then at `FIT_HOLD` of it, probing past it
  only every `PROBE_AFTER_FIT` seconds.
  Unpaced, sends are held at `HOLD_SHARE` of what was accepted over the second before.
  Paced at a rate that still drew one, that rate is over the limit: it is cut by
  `EDGE_CUT` (what was accepted just before overstates the limit: the endpoint's burst
  allowance let some through).
- After `CLIMB_AFTER` seconds without a 429 the rate climbs back every `PROBE_EVERY`
  seconds, halfway to `CLIMB_SHARE` of the last rate that drew one (a cut that went too
  deep is undone in seconds). Past that it probes only after `probe_after` quiet
  seconds, doubled each time a probe meets a 429 (a 1% gain does not pay for a pause
  often): a step of 1%, doubled at each step that meets no 429, so that a rate cut deep
  by 429s that were not a rate limit (an overloaded endpoint's, say) is regained in
  seconds once they stop; a 429 returns to the rate before the step, or a tenth under
  the step's if that is lower (the burst allowance delays the 429 past the next step).
  The rate is forgotten once it no longer holds anything back.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

MAX_PAUSE = 600.0  # seconds: a Retry-After of days still lets the destination come back
HOLD_SHARE = 0.97  # of the accepted rate, when a 429 comes while sends are not paced
EDGE_CUT = 0.9  # of the paced rate, when a 429 comes while paced: that rate was too high
CLIMB_SHARE = 0.95  # climb back to this share of the last paced rate that drew a 429
CLIMB_AFTER = 2.0  # seconds without a 429 before climbing back
PROBE_AFTER = 5.0  # seconds without a 429 before probing past that (doubles per 429 met)
PROBE_AFTER_MAX = 30.0
PROBE_STEP = 0.01  # the first probe step; each one that meets no 429 doubles the next
MAX_PROBE_STEP = 1.0
PROBE_EVERY = 1.0
WINDOW = 1.0  # seconds of accepted requests the rate is learnt from
MIN_WINDOW = 0.25  # a shorter window (a burst the endpoint let through) says too little:
SHORT_DECREASE = 0.7  # then the rate sent at is cut by this instead, counted over
SHORT_SPAN = 0.05  # seconds at least (a stretch that short is mostly the burst allowance)
BURST = 0.05  # seconds of sends a late timer may catch up at once
FIT_POINTS = 4  # the latest stretches between pauses the limit is fitted to
FIT_SPREAD = 0.03  # seconds between the shortest and longest of them, at least
MIN_FIT_BURST = 3.0  # requests: a smaller burst allowance is not a token bucket's
BELOW_LINE = 0.8  # a stretch that got less than this share of the line's count: it moved
PROBE_AFTER_FIT = 30.0  # seconds without a 429 before probing past a fitted limit
FIRM_SPREAD = 0.5  # seconds: stretches this far apart in length fit within ~1%
PROVISIONAL_OVER = 1.03  # of a fit that is not firm yet
FIT_HOLD = 0.98  # of a fitted limit: held closer than a guess (it is one within ~1-2%)
FIT_TRUST = 1.1  # a probe that got this far past the fitted limit shows it moved


@dataclass(frozen=True, slots=True)
class ThrottleState:
    paused_until: float  # monotonic seconds; 0 when never paused
    learnt_rate: float | None  # requests per second, None until a 429


class Throttle:
    """All times are one clock's (monotonic seconds). `wait(now)` is how long the next send
    must wait (0: go now, and it counts as sent)."""

    def __init__(self, max_pause: float = MAX_PAUSE) -> None:
        self.max_pause = max_pause
        self.paused_until = 0.0
        self.rate: float | None = None  # learnt from 429s
        self.too_high: float | None = None  # the last paced rate that drew a 429
        self._safe: float | None = None  # the rate before the probe step in force
        self._probe_step = PROBE_STEP
        self.probe_after = PROBE_AFTER
        self._resumed_at: float | None = None  # first send after the last pause
        self._accepted: collections.deque[float] = collections.deque()
        self._last_429 = 0.0
        self._last_step = 0.0
        self._next_send = 0.0
        # The stretch since the pause ended: from its first answer, accepted answers, and
        # whether the rate stayed the same throughout (only such a stretch fits the line).
        self._stretch_start: float | None = None
        self._stretch_accepted = 0
        self._stretch_steady = True
        self._points: collections.deque[tuple[float, int]] = collections.deque(maxlen=FIT_POINTS)
        self.fitted: float | None = None  # the limit fitted to the stretches

    def state(self) -> ThrottleState:
        return ThrottleState(self.paused_until, self.rate)

    def accepted(self, now: float) -> None:
        self._answered(now)
        self._stretch_accepted += self._stretch_start is not None
        self._accepted.append(now)
        cutoff = now - WINDOW
        while self._accepted and self._accepted[0] < cutoff:
            self._accepted.popleft()

    def rate_limited(self, now: float, retry_after: float | None) -> None:
        """A 429. Answers to requests sent before the pause began teach nothing new."""
        self._answered(now)
        if now >= self.paused_until:
            self._learn(now)
        if retry_after is not None:
            pause = min(max(0.0, retry_after), self.max_pause)
            if now + pause > self.paused_until:
                self.paused_until = now + pause
                self._resumed_at = None
                self._next_send = self.paused_until  # no catching up on the pause
        self._last_429 = now

    def _answered(self, now: float) -> None:
        if (
            self._stretch_start is None
            and self._resumed_at is not None
            and now >= max(self._resumed_at, self.paused_until)
        ):
            self._stretch_start = now

    def current_rate(self) -> float | None:
        """The rate sends are paced at now (None: not paced)."""
        return self.rate

    def wait(self, now: float) -> float:
        if now < self.paused_until:
            return self.paused_until - now
        rate = self._rate(now)
        if self._resumed_at is None:
            self._resumed_at = now
        if rate is None:
            return 0.0
        if now < self._next_send:
            return self._next_send - now
        self._next_send = max(self._next_send, now - BURST) + 1.0 / rate
        return 0.0

    def _rate(self, now: float) -> float | None:
        rate = self.rate
        if rate is None or now - self._last_step < PROBE_EVERY:
            return rate
        quiet = now - self._last_429
        target = CLIMB_SHARE * self.too_high if self.too_high is not None else None
        if target is not None and rate < 0.99 * target and quiet > CLIMB_AFTER:
            rate += (target - rate) / 2  # a cut that went too deep is undone in seconds
        elif quiet > self.probe_after:
            # Past the known edge, or far under it (429s that were not a rate limit, say
            # an overloaded endpoint's, may have cut it deep): steps that double while
            # nothing pushes back, from 1%; a 429 returns to the rate before the step.
            self._safe = rate
            rate *= 1 + self._probe_step
            self._probe_step = min(MAX_PROBE_STEP, 2 * self._probe_step)
        else:
            return rate
        self._last_step = now
        self._stretch_steady = False
        # Not reached for a whole window: it holds nothing back any more.
        self.rate = rate if len(self._accepted) >= 0.5 * rate * WINDOW else None
        if self.rate is None:
            self.too_high, self._safe, self.fitted = None, None, None
            self._points.clear()
            self.probe_after, self._probe_step = PROBE_AFTER, PROBE_STEP
        return self.rate

    def _learn(self, now: float) -> None:
        # Accepted since the first answer after the pause (before it, none could come).
        first = self._stretch_start if self._stretch_start is not None else now
        start = max(now - WINDOW, first)
        span = now - start
        recent = sum(1 for t in self._accepted if t >= start)
        self._probe_step = PROBE_STEP
        fitted = self._fit(now)
        if self._safe is not None and self.fitted is not None:
            # A probe past the fitted limit met a 429: the limit has not moved much.
            if self._safe <= FIT_TRUST * self.fitted:
                self.rate, self._safe = FIT_HOLD * self.fitted, None
            else:  # it went well past the fitted limit first: that limit is old
                self.rate, self._safe, self.fitted = self._safe, None, None
                self._points.clear()
        elif self._safe is not None:  # a probe met a 429: back, and probe half as often
            # (The endpoint's burst allowance delays the 429: the step before may be
            # over the limit too, when steps came faster than it ran out.)
            assert self.rate is not None
            self.rate, self._safe = min(self._safe, EDGE_CUT * self.rate), None
            self.probe_after = min(PROBE_AFTER_MAX, 2 * self.probe_after)
        elif fitted is not None:
            self.fitted, self.too_high, self._safe = fitted, None, None
            # Stretches close in length fit within ~10% (one answer more or less over
            # 0.04 s is 25/s): held a little over the fit until a steady stretch ends in
            # a 429 and makes it firm (a fit up to 3% under the limit is held at it).
            firm = self._spread() >= FIRM_SPREAD
            self.rate = (FIT_HOLD if firm else PROVISIONAL_OVER) * fitted
            self.probe_after = PROBE_AFTER_FIT
        elif self.rate is not None:  # paced, and still too fast: that rate is over the limit
            self.too_high = self.rate
            learnt = EDGE_CUT * self.rate
            if span >= WINDOW and recent:
                learnt = min(learnt, HOLD_SHARE * recent / span)
            self.rate = learnt
        elif span >= MIN_WINDOW and recent:
            self.rate = HOLD_SHARE * recent / span
        elif recent:
            self.rate = SHORT_DECREASE * recent / max(span, SHORT_SPAN)
        self._last_step = now

    def _fit(self, now: float) -> float | None:
        """The limit of a token bucket (a rate and a burst allowance, as most limiters are)
        from the stretches between pauses: each began with the bucket full (a pause of
        Retry-After refills it) and ended when it was empty, so a stretch that was over the
        limit throughout got `burst + limit * length` accepted. The slope of that line over
        stretches of different lengths is the limit, the burst cancelled out; one
        stretch's accepted rate alone overstates it by burst / length."""
        start, accepted, steady = (
            self._stretch_start,
            self._stretch_accepted,
            self._stretch_steady,
        )
        self._stretch_start, self._stretch_accepted, self._stretch_steady = None, 0, True
        if start is None or not steady:
            return None
        point = (now - start, accepted)
        line = self._line() if self.fitted is not None else None
        if line is not None:
            slope, burst = line
            if accepted < BELOW_LINE * (burst + slope * point[0]):
                # Far fewer than the line says: the limit moved, or these were not a
                # limit's 429s. What was fitted no longer holds.
                self._points.clear()
                self.fitted = None
        self._points.append(point)
        return self._fitted_limit()

    def _spread(self) -> float:
        lengths = [t for t, _ in self._points]
        return max(lengths) - min(lengths) if lengths else 0.0

    def _line(self) -> tuple[float, float] | None:
        """(slope, intercept) by least squares, when the stretches say enough."""
        points = self._points
        lengths = [t for t, _ in points]
        if len(points) < 2 or max(lengths) - min(lengths) < FIT_SPREAD:
            return None
        mean_t = sum(lengths) / len(points)
        mean_a = sum(a for _, a in points) / len(points)
        spread = sum((t - mean_t) ** 2 for t in lengths)
        slope = sum((t - mean_t) * (a - mean_a) for t, a in points) / spread
        return slope, mean_a - slope * mean_t

    def _fitted_limit(self) -> float | None:
        """The line's slope, if it is a bucket's. The oldest stretches are dropped while
        the line is not: the first one, unpaced, may have begun under the limit (a ramp
        from few requests in flight) and got fewer than the line says."""
        while (line := self._line()) is not None:
            slope, burst = line
            if slope > 0 and burst >= MIN_FIT_BURST:
                return slope
            if len(self._points) <= 2:
                break
            self._points.popleft()
        return None  # not a bucket's line (429s that were not a limit, say)
