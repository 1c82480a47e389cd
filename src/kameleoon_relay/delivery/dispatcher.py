"""Delivery loop: one worker per destination claims due deliveries, plans and sends them.

Each claimed event is planned with the pipeline in force at that moment (`current()`),
so a reloaded config applies to work already queued.

Each destination has its own task, HTTP pool and concurrency limit, so a slow or failing
destination only ever fills its own slots. Workers sleep until woken (new work) or the poll
interval passes (retries coming due, work written by another process).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable

from pyreqwest.client import Client

from kameleoon_relay.actions import BatchLimits
from kameleoon_relay.config.model import DeliverySettings
from kameleoon_relay.delivery.attempt import Answer, attempt, crashed
from kameleoon_relay.delivery.batch import attempt_batch, batch_limits, crashed_all
from kameleoon_relay.delivery.client import http_session
from kameleoon_relay.delivery.concurrency import ConcurrencyLimit
from kameleoon_relay.delivery.metrics import ATTEMPTS, IN_FLIGHT, LATENCY, DestinationGauges
from kameleoon_relay.delivery.ordering import UserOrdering
from kameleoon_relay.delivery.policy import RetryPolicy, Verdict
from kameleoon_relay.delivery.shared_rate import SharedRate
from kameleoon_relay.delivery.throttle import Throttle
from kameleoon_relay.delivery.tokens import TokenCache, TokenSource
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store.base import Store
from kameleoon_relay.store.errors import StoreFull
from kameleoon_relay.store.models import ClaimedDelivery, DeliveryOutcome

log = logging.getLogger("kameleoon_relay.delivery")

CLAIM_BATCH = 64  # deliveries claimed at once under a small limit (see `_claim_size`)
BATCHED_CLAIMS = 2  # a batching destination claims this many requests' worth at once
CLAIM_SECONDS = 10.0  # under a rate, claim no more than this many seconds' worth
LAG_PROBE_SECONDS = 0.1  # how often the event loop's lag is measured
GAUGE_SECONDS = 0.25  # how often the adaptive state goes to the gauges
RECORD_BATCH = 32  # outcomes worth one transaction without waiting
RECORD_GATHER_SECONDS = 0.005  # how long a smaller batch waits for more (leases are minutes)
RECORD_STALL = 1.0  # seconds a record may take before sending ahead of it stops
# A failed record is tried again while the outcomes' leases last: 0.2 s, then doubling up
# to RECORD_RETRY_MAX, so that a database back after an outage gets them at once.
RECORD_RETRY_DELAY = 0.2
RECORD_RETRY_MAX = 1.0
RECORD_FULL_RETRY_MAX = 5.0  # a full disk: outcomes kept, tried again at most this far apart
OUTCOME_LABELS = {
    "delivered": "delivered",
    "filtered": "filtered",
    "pending": "retry",
    "failed": "failed",
    "dead": "dead",
}


class Dispatcher:
    """Runs one `DestinationWorker` per destination that has work.

    `Dispatcher(store, current, settings)`, where `current()` returns the pipeline in force;
    `task = asyncio.create_task(dispatcher.run(stop))`;
    call `dispatcher.wake()` after ingesting; `stop.set()` and `await task` to finish the
    requests in flight. Close the store only after that.
    """

    def __init__(
        self,
        store: Store,
        current: Callable[[], Pipeline],
        settings: DeliverySettings,
        *,
        poll_interval: float = 0.2,
        discover_interval: float = 1.0,
        rng: random.Random | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self.store = store
        self.current = current
        self.settings = settings
        self.poll_interval = poll_interval
        self.discover_interval = discover_interval
        self.rng = rng
        self._workers: dict[str, DestinationWorker] = {}
        self._tasks: list[asyncio.Task] = []
        # One access token per destination, for every worker: fetched here, or borrowed
        # from `serve` in a delivery process (token_link.py).
        self.tokens: TokenSource = tokens or TokenCache()
        self._signal = asyncio.Event()

    def wake(self) -> None:
        """New work was stored: claim it now instead of at the next poll."""
        for worker in self._workers.values():
            worker.wake()

    async def run(self, stop: asyncio.Event) -> None:
        stop_watch = asyncio.create_task(self._relay_stop(stop))
        try:
            while not stop.is_set():
                self._signal.clear()
                # Destinations added by a reload, or removed while work is still queued,
                # are found within `discover_interval` (wake() only concerns workers).
                names = [d.config.name for d in self.current().destinations]
                for name in [*names, *await self._queued_destinations()]:
                    self._ensure_worker(name, stop)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._signal.wait(), self.discover_interval)
        finally:
            if not stop.is_set():  # cancelled, not stopped: the workers would never end
                for task in self._tasks:
                    task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            stop_watch.cancel()

    async def _queued_destinations(self) -> list[str]:
        try:
            return await self.store.pending_destinations()
        except Exception:
            log.exception("listing destinations with queued work failed")
            return []

    async def _relay_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._signal.set()
        self.wake()

    def _ensure_worker(self, name: str, stop: asyncio.Event) -> None:
        if name in self._workers:
            return
        worker = DestinationWorker(
            self.store,
            name,
            self.current,
            self.settings,
            poll_interval=self.poll_interval,
            rng=self.rng,
            tokens=self.tokens,
        )
        self._workers[name] = worker
        self._tasks.append(asyncio.create_task(worker.run(stop), name=f"deliver:{name}"))


class DestinationWorker:
    """Claims and sends one destination's deliveries, at most `limit.limit` at a time
    (adaptive: delivery/concurrency.py), no faster than `throttle` lets (429 pauses, the
    rate learnt from them, the configured rate: delivery/throttle.py).

    Outcomes are recorded in batches: while one batch is being written, the next one
    gathers, so under load one transaction records many attempts and at low load an
    outcome is written at once.
    """

    def __init__(
        self,
        store: Store,
        destination: str,
        current: Callable[[], Pipeline],
        settings: DeliverySettings,
        *,
        poll_interval: float = 0.2,
        rng: random.Random | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self.store = store
        self.destination = destination
        self.tokens: TokenSource = tokens or TokenCache()
        self._ready_since = 0.0  # monotonic time the oldest unsent claim was taken
        self.current = current
        self.options = settings
        self.policy = RetryPolicy.from_settings(settings)
        self.poll_interval = poll_interval
        self.rng = rng
        self._tasks: set[asyncio.Task] = set()
        self.limit = ConcurrencyLimit(
            settings.starting_concurrency, settings.concurrency_bound, adaptive=settings.adaptive
        )
        self.throttle = Throttle(max_pause=min(settings.retry_window, settings.backoff_max))
        self.shared_rate = (
            None
            if settings.rate_limit is None
            else SharedRate(store, destination, settings.rate_limit, self._fill)
        )
        self._gauges = DestinationGauges(destination)
        self._timer: asyncio.Handle | None = None  # a send held back by the throttle
        self._timer_at = 0.0
        self._shown = 0.0  # when the gauges were last set
        self._signal = asyncio.Event()
        # Claimed, not yet sent: claims are taken several slots' worth at a time, so that
        # the claim, a write that may wait for ingest's, comes a few times less often.
        self._ready: collections.deque[ClaimedDelivery] = collections.deque()
        self._drained = False  # the last claim got less than asked: poll, do not spin
        self._recording_since = 0.0  # monotonic start of the record in progress (0: none)
        self._session: Client | None = None
        self._in_flight = IN_FLIGHT.labels(destination)
        self._outcomes: list[DeliveryOutcome] = []
        self._unsent: list[ClaimedDelivery] = []  # to give back once the disk has room
        self._recorder: asyncio.Task | None = None
        self._ordering = UserOrdering(store, destination, settings)

    def _claim_size(self) -> int:
        """Several slots' worth of the limit in force, but few enough to be sent well
        within their lease (under a rate: `CLAIM_SECONDS` of it)."""
        limit = self.limit.limit
        size = max(2 * limit, min(CLAIM_BATCH, 8 * limit))
        rate = self.throttle.current_rate()
        if self.options.rate_limit is not None:
            rate = min(rate or self.options.rate_limit, self.options.rate_limit)
        if rate is not None:
            size = min(size, max(1, int(rate * CLAIM_SECONDS)))
        return size

    def wake(self) -> None:
        self._signal.set()

    async def run(self, stop: asyncio.Event) -> None:
        # The pool opens connections as requests need them, up to the most the limit may
        # reach, and closes those idle for 30 s: it follows the limit both ways.
        self._session = http_session(
            timeout=self.options.timeout, max_connections=self.options.concurrency_bound
        )
        probe = asyncio.create_task(self._probe_lag(stop))
        try:
            while not stop.is_set():
                self._signal.clear()  # before claiming: a wake during the claim is kept
                paused = self.throttle.paused_until - time.monotonic()
                limits = batch_limits(self.current(), self.destination)
                low, size = self._claim_plan(limits)
                claimed_now = 0
                if paused > 0:  # a 429's Retry-After: claim again when it ends
                    self._fill_later(paused)
                elif len(self._ready) < low and size > len(self._ready):
                    want = size - len(self._ready)
                    claimed = await self._claim(want)
                    if claimed and not self._ready:
                        self._ready_since = time.monotonic()
                    self._ready.extend(claimed)
                    self._drained = len(claimed) < want
                    claimed_now = len(claimed)
                self._fill()
                self._show()
                if (
                    limits is not None
                    and claimed_now
                    and self.limit.room()
                    and len(self._ready) < low
                    and not self._drained
                ):
                    continue  # a free slot and more than a batch queued: claim it now
                # Work left in the queue: wait for the buffer to run low, not the clock.
                timeout = self.poll_interval if self._drained else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._signal.wait(), timeout)
        finally:
            probe.cancel()
            if self.shared_rate is not None:
                self.shared_rate.close()
            if self._timer is not None:
                self._timer.cancel()
            # Graceful stop: requests already sent finish and their outcome is recorded.
            # Cancelled instead: cut them short; their rows stay in_flight until recovery.
            if not stop.is_set():
                for task in self._tasks:
                    task.cancel()
            if stop.is_set():
                await self._give_back()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._recorder is not None:
                await asyncio.gather(self._recorder, return_exceptions=True)
            await self._session.close()

    def _claim_plan(self, limits: BatchLimits | None) -> tuple[int, int]:
        """(claim when fewer are ready than this, up to this many in all)."""
        if limits is None:
            return self.limit.limit, self._claim_size()
        return limits.max_events, BATCHED_CLAIMS * limits.max_events

    def _fill(self) -> None:
        if self._recording_since and time.monotonic() - self._recording_since > RECORD_STALL:
            # The store is not keeping up (an outage, a long lock): send nothing more
            # ahead of it, or the claims' leases may end before their outcomes are kept,
            # and the work be sent again by whoever claims it next.
            return
        limits = batch_limits(self.current(), self.destination)
        if limits is not None:
            self._fill_batches(limits)
            return
        now = time.time()
        while self._ready and self.limit.room():
            if self.shared_rate is not None:
                slot = self.shared_rate.wait(now)
                if slot is None:
                    return  # reserving: it fills when the reservation is made
                if slot > 0:
                    self._fill_later(slot)
                    return
            wait = self.throttle.wait(time.monotonic())
            if wait > 0:
                self._fill_later(wait)
                return
            if self.shared_rate is not None:
                self.shared_rate.take()
            claimed = self._ready.popleft()
            # Past its lease another process may have claimed it: not ours to send now.
            if claimed.lease > now:
                self._start(claimed)

    def _fill_batches(self, limits: BatchLimits) -> None:
        """Start a batch per free slot: a full one at once, a partial one when its oldest
        event has waited `max_wait` (more may come meanwhile)."""
        while self._ready and self.limit.room():
            full = len(self._ready) >= limits.max_events
            if not full and time.monotonic() - self._ready_since < limits.max_wait:
                return  # the loop polls again within its interval
            now = time.time()
            group: list[ClaimedDelivery] = []
            while self._ready and len(group) < limits.max_events:
                claimed = self._ready.popleft()
                if claimed.lease > now:  # past its lease: not ours to send any more
                    group.append(claimed)
            self._ready_since = time.monotonic()
            if group:
                self._start_batch(group)

    def _start_batch(self, group: list[ClaimedDelivery]) -> None:
        self.limit.started()
        task = asyncio.create_task(self._deliver_batch(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_batch(self, group: list[ClaimedDelivery]) -> None:
        assert self._session is not None
        self._in_flight.inc()
        try:
            outcomes = await attempt_batch(
                self._session,
                group,
                self.current(),
                self.policy,
                self.options.timeout,
                self.tokens,
                self.rng,
            )
        except Exception as exc:
            log.exception("a batch of %d to %s crashed", len(group), self.destination)
            outcomes = crashed_all(group, exc, self.policy, self.rng)
        finally:
            self.limit.finished(time.monotonic(), None, False)
            self._in_flight.dec()
            self._release()
        for outcome in outcomes:
            _observe(self.destination, outcome)
        self._outcomes.extend(outcomes)
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_all())

    def _show(self) -> None:
        now = time.monotonic()
        if now - self._shown >= GAUGE_SECONDS:
            self._shown = now
            rate = self.throttle.current_rate()
            if self.options.rate_limit is not None:
                rate = min(rate or self.options.rate_limit, self.options.rate_limit)
            self._gauges.show(self.limit.state(), self.throttle.state(), rate)

    def _fill_later(self, delay: float) -> None:
        at = time.monotonic() + delay
        if self._timer is None or self._timer_at > at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = at
            self._timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._fill()
        self._signal.set()  # a pause ended: claim again

    async def _probe_lag(self, stop: asyncio.Event) -> None:
        """How long a task waits for the event loop, averaged: when requests wait more for
        our own loop than for the endpoint, more in flight would only queue here."""
        while not stop.is_set():
            await asyncio.sleep(LAG_PROBE_SECONDS)
            started = time.monotonic()
            await asyncio.sleep(0)
            lag = time.monotonic() - started
            self.limit.loop_lag = 0.5 * self.limit.loop_lag + 0.5 * lag

    async def _give_back(self) -> None:
        """Stopping: the deliveries claimed but not sent are pending again at once (not
        when their lease ends)."""
        unsent = [*self._ready, *self._unsent]
        self._ready, self._unsent = collections.deque(), []
        try:
            await self.store.release(unsent)
        except Exception:
            log.exception("giving back %d unsent deliveries failed", len(unsent))

    async def _claim(self, limit: int) -> list[ClaimedDelivery]:
        try:
            order = await self._ordering.order()
            return await self.store.claim(
                self.destination, limit, time.time(), self.options.lease, order
            )
        except StoreFull as exc:  # one line, not a traceback a claim
            log.error("claiming deliveries for %s failed: %s", self.destination, exc)
            return []
        except Exception:
            log.exception("claiming deliveries for %s failed", self.destination)
            return []

    def _start(self, record: ClaimedDelivery) -> None:
        self.limit.started()
        task = asyncio.create_task(self._deliver(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _release(self) -> None:
        """The request is answered: its slot serves the next claimed delivery at once, and
        the loop claims more when fewer than the limit are left."""
        self._fill()
        low, _ = self._claim_plan(batch_limits(self.current(), self.destination))
        if len(self._ready) < low and not self._drained:
            self._signal.set()

    def _answered(self, answer: Answer) -> None:
        now = time.monotonic()
        if answer.verdict is Verdict.DELIVERED:
            self.throttle.accepted(now)
        elif answer.status == 429:
            self.throttle.rate_limited(now, answer.retry_after)

    async def _deliver(self, claimed: ClaimedDelivery) -> None:
        assert self._session is not None
        self._in_flight.inc()
        try:
            outcome = await attempt(
                self._session,
                claimed,
                self.current(),
                self.policy,
                self.options.timeout,
                self.rng,
                self._answered,
            )
        except Exception as exc:
            log.exception("delivery %s to %s crashed", claimed.id, self.destination)
            outcome = crashed(claimed, exc, self.policy, self.rng)
            self.limit.finished(time.monotonic(), None, False)
        else:
            self.limit.finished(time.monotonic(), *_round_trip(outcome))
        finally:
            self._in_flight.dec()
            self._release()
        _observe(self.destination, outcome)
        self._outcomes.append(outcome)
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_all())

    async def _record_all(self) -> None:
        failures = 0
        while self._outcomes:
            if len(self._outcomes) < RECORD_BATCH and self.limit.in_flight:
                # More are on their way: one transaction for a few more outcomes.
                await asyncio.sleep(RECORD_GATHER_SECONDS)
            batch, self._outcomes = self._outcomes, []
            self._recording_since = time.monotonic()
            try:
                await self.store.record(batch)
                failures = 0
                self._recording_since = 0.0
                self._fill()  # if sending was held back while the store was slow
                if self.options.per_user_order and _releases_users(batch):
                    # Finished work lets those users' next events go: claim them now,
                    # not at the next poll.
                    self._drained = False
                    self._signal.set()
            except Exception as exc:
                # The store is in trouble (a full disk, an outage): send nothing more ahead
                # of it; the unsent claims are given back once it answers again, not left to
                # their lease. The outcomes are known: keep them while their lease lasts and
                # try again, so that nothing is sent twice. Past its lease a delivery may be
                # claimed again: at least once, never lost.
                self._recording_since = 0.0
                failures += 1
                self._unsent.extend(self._ready)
                self._ready.clear()
                self._keep_outcomes(batch, exc)
                full = isinstance(exc, StoreFull)  # room comes back slowly: tried less often
                delay = RECORD_RETRY_DELAY * 2 ** (failures if full else failures - 1)
                await asyncio.sleep(min(RECORD_FULL_RETRY_MAX if full else RECORD_RETRY_MAX, delay))
                if full:
                    await self._give_back_unsent()
        await self._give_back_unsent()

    def _keep_outcomes(self, batch: list[DeliveryOutcome], exc: Exception) -> None:
        """Outcomes the store refused, kept for the next try while their lease lasts."""
        now = time.time()
        kept = [o for o in batch if o.lease > now]
        self._outcomes = kept + [o for o in self._outcomes if o.lease > now]
        if isinstance(exc, StoreFull):
            log.error("recording %d delivery outcomes failed: %s", len(batch), exc)
            return
        if len(kept) < len(batch):
            log.error(
                "%d delivery outcomes could not be recorded within their lease;"
                " those deliveries will be sent again",
                len(batch) - len(kept),
            )
        if kept:
            log.warning(
                "recording %d delivery outcomes failed (%s: %s); retrying",
                len(kept),
                type(exc).__name__,
                exc,
            )

    async def _give_back_unsent(self) -> None:
        """Claims not sent because the store failed (a full disk, an outage): pending
        again as soon as a write goes through (not when their lease ends)."""
        if not self._unsent:
            return
        unsent, self._unsent = self._unsent, []
        try:
            await self.store.release(unsent)
        except Exception:  # still failing: kept while their lease lasts, tried again later
            now = time.time()
            self._unsent = [c for c in unsent if c.lease > now] + self._unsent


def _releases_users(outcomes: list[DeliveryOutcome]) -> bool:
    """Whether any outcome ended its delivery (not a retry): per-user order lets the next
    event of that user be claimed."""
    return any(outcome.state != "pending" for outcome in outcomes)


def _round_trip(outcome: DeliveryOutcome) -> tuple[float | None, bool]:
    """The RTT sample (mean of the answered requests, when all went through) and whether
    the endpoint pushed back (a retryable answer, a timeout, a connection error)."""
    back_pressure = any(sent.outcome in ("retry", "dead") for sent in outcome.requests)
    if back_pressure or outcome.state != "delivered" or outcome.latency is None:
        return None, back_pressure
    sent = sum(1 for r in outcome.requests if r.latency is not None)
    return outcome.latency / max(1, sent), False


# A metric's child per label set, looked up once: labels() costs a lock and a tuple each time.
_attempts = functools.lru_cache(maxsize=4096)(ATTEMPTS.labels)
_latency = functools.lru_cache(maxsize=4096)(LATENCY.labels)


def _observe(destination: str, outcome: DeliveryOutcome) -> None:
    """Metrics and a log line for each request of an outcome."""
    for sent in outcome.requests:
        _attempts(destination, sent.action or "", sent.outcome).inc()
        if sent.latency is not None:
            _latency(destination, sent.action or "").observe(sent.latency)
    if not outcome.requests:
        _attempts(destination, "", OUTCOME_LABELS[outcome.state]).inc()
    # One line per outcome: info when it went through (or was filtered), warning otherwise.
    # Names and numbers only: never the event, its user id, or a header.
    label = OUTCOME_LABELS[outcome.state]
    ok = outcome.state in ("delivered", "filtered")
    log.log(
        logging.INFO if ok else logging.WARNING,
        "delivery %s to %s/%s: %s%s",
        outcome.delivery_id,
        destination,
        outcome.actions or "-",
        label,
        "" if outcome.error is None else f" ({outcome.error})",
        extra={
            "record": True,  # one line per outcome: never rate-limited
            "fields": {
                "delivery_id": outcome.delivery_id,
                "destination": destination,
                "actions": outcome.actions or None,
                "outcome": label,
                "status": outcome.status,
                "latency_ms": None if outcome.latency is None else round(outcome.latency * 1000, 1),
                "error": outcome.error,
            },
        },
    )
