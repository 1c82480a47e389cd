"""Delivery loop: one worker per destination claims due deliveries and sends them.

Each destination has its own task, HTTP pool and concurrency limit, so a slow or failing
destination only ever fills its own slots. Workers sleep until woken (new work) or the poll
interval passes (retries coming due, work written by another process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from kameleoon_relay.delivery.attempt import attempt
from kameleoon_relay.delivery.client import ClientPool
from kameleoon_relay.delivery.metrics import ATTEMPTS, IN_FLIGHT, LATENCY
from kameleoon_relay.delivery.policy import RetryPolicy, Verdict
from kameleoon_relay.store.base import Store
from kameleoon_relay.store.models import AttemptOutcome, DeliveryRecord

log = logging.getLogger("kameleoon_relay.delivery")

OUTCOME_LABELS = {"delivered": "delivered", "pending": "retry", "failed": "failed", "dead": "dead"}


@dataclass(frozen=True)
class DeliveryOptions:
    """The delivery settings the dispatcher uses (`config.delivery` provides them)."""

    retry_window: float = 14400.0
    concurrency: int = 16
    timeout: float = 10.0
    backoff_base: float = 1.0
    backoff_max: float = 600.0

    @classmethod
    def from_settings(cls, settings: Any) -> DeliveryOptions:
        return cls(
            retry_window=settings.retry_window,
            concurrency=settings.concurrency,
            timeout=settings.timeout,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
        )

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(window=self.retry_window, base=self.backoff_base, cap=self.backoff_max)


class Dispatcher:
    """Runs one `DestinationWorker` per destination that has work.

    `Dispatcher(store, config)`; `task = asyncio.create_task(dispatcher.run(stop))`;
    call `dispatcher.wake()` after ingesting; `stop.set()` and `await task` to finish the
    requests in flight. Close the store only after that.
    """

    def __init__(
        self,
        store: Store,
        config: Any = None,
        *,
        options: DeliveryOptions | None = None,
        poll_interval: float = 0.2,
        discover_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        if options is None:
            settings = getattr(config, "delivery", None)
            options = DeliveryOptions.from_settings(settings) if settings else DeliveryOptions()
        self.store = store
        self.options = options
        self.poll_interval = poll_interval
        self.discover_interval = discover_interval
        self.rng = rng
        self._configured = [d.name for d in getattr(config, "destinations", None) or []]
        self._workers: dict[str, DestinationWorker] = {}
        self._tasks: list[asyncio.Task] = []
        self._signal = asyncio.Event()

    def wake(self) -> None:
        """New work was stored: claim it now instead of at the next poll."""
        for worker in self._workers.values():
            worker.wake()

    async def run(self, stop: asyncio.Event) -> None:
        stop_watch = asyncio.create_task(self._relay_stop(stop))
        try:
            for name in self._configured:
                self._ensure_worker(name, stop)
            while not stop.is_set():
                self._signal.clear()
                # Destinations removed from the config may still have queued work; they
                # are found within `discover_interval` (wake() only concerns workers).
                for name in await self.store.pending_destinations():
                    self._ensure_worker(name, stop)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._signal.wait(), self.discover_interval)
        finally:
            if not stop.is_set():  # cancelled, not stopped: the workers would never end
                for task in self._tasks:
                    task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            stop_watch.cancel()

    async def _relay_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._signal.set()
        self.wake()

    def _ensure_worker(self, name: str, stop: asyncio.Event) -> None:
        if name in self._workers:
            return
        worker = DestinationWorker(
            self.store, name, self.options, poll_interval=self.poll_interval, rng=self.rng
        )
        self._workers[name] = worker
        self._tasks.append(asyncio.create_task(worker.run(stop), name=f"deliver:{name}"))


class DestinationWorker:
    """Claims and sends one destination's deliveries, at most `concurrency` at a time."""

    def __init__(
        self,
        store: Store,
        destination: str,
        options: DeliveryOptions,
        *,
        poll_interval: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.destination = destination
        self.options = options
        self.policy = options.policy
        self.poll_interval = poll_interval
        self.rng = rng
        self._tasks: set[asyncio.Task] = set()  # until their outcome is recorded
        self._signal = asyncio.Event()
        self._saturated = False
        self._clients: ClientPool | None = None
        # Refill in batches: one claim per few finished requests, not one per request.
        self._refill_at = max(1, options.concurrency // 4)

    def wake(self) -> None:
        self._signal.set()

    async def run(self, stop: asyncio.Event) -> None:
        # One client (one keep-alive connection) per slot: the free list is the limit.
        clients = self._clients = ClientPool(self.options.concurrency, self.options.timeout)
        try:
            while not stop.is_set():
                self._signal.clear()  # before claiming: a wake during the claim is kept
                free = clients.available
                claimed = await self._claim(free) if free > 0 else []
                for record in claimed:
                    self._start(clients.take(), record)
                self._saturated = free == 0 or len(claimed) == free
                # Saturated: more work is likely waiting, so wait for slots, not the clock.
                timeout = None if self._saturated else self.poll_interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._signal.wait(), timeout)
        finally:
            # Graceful stop: requests already sent finish and their outcome is recorded.
            # Cancelled instead: cut them short; their rows stay in_flight until recovery.
            if not stop.is_set():
                for task in self._tasks:
                    task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            await clients.aclose()

    async def _claim(self, limit: int) -> list[DeliveryRecord]:
        try:
            return await self.store.claim(self.destination, limit, time.time())
        except Exception:
            log.exception("claiming deliveries for %s failed", self.destination)
            return []

    def _start(self, client: Any, record: DeliveryRecord) -> None:
        task = asyncio.create_task(self._deliver(client, record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _release(self, client: Any) -> None:
        """The request is answered: its slot may serve the next one while we record."""
        assert self._clients is not None
        self._clients.give_back(client)
        free = self._clients.available
        if self._saturated and (free >= self._refill_at or free == self.options.concurrency):
            self._signal.set()

    async def _deliver(self, client: Any, record: DeliveryRecord) -> None:
        IN_FLIGHT.labels(self.destination).inc()
        try:
            outcome = await attempt(client, record, self.policy, self.options.timeout, self.rng)
        except Exception as exc:
            # A bug, not a network problem: keep the delivery, retry it later.
            log.exception("delivery %s to %s crashed", record.id, self.destination)
            outcome = _crashed(record, exc, self.policy, self.rng)
        finally:
            IN_FLIGHT.labels(self.destination).dec()
            self._release(client)
        ATTEMPTS.labels(record.destination, record.action, OUTCOME_LABELS[outcome.state]).inc()
        if outcome.latency is not None:
            LATENCY.labels(record.destination, record.action).observe(outcome.latency)
        if outcome.state != "delivered":
            log.warning(
                "delivery %s to %s/%s: %s (%s)",
                record.id,
                record.destination,
                record.action,
                OUTCOME_LABELS[outcome.state],
                outcome.error,
            )
        try:
            await self.store.record_attempt(record.id, outcome)
        except Exception:
            # It stays in_flight and is sent again after a restart: at least once, not lost.
            log.exception("recording delivery %s failed", record.id)


def _crashed(
    record: DeliveryRecord, exc: Exception, policy: RetryPolicy, rng: random.Random | None
) -> AttemptOutcome:
    now = time.time()
    decision = policy.decide(
        Verdict.RETRY,
        attempts=record.attempts + 1,
        window_start=record.window_start,
        now=now,
        reason=f"internal error: {type(exc).__name__}",
        rng=rng,
    )
    return AttemptOutcome(
        decision.state, now, error=decision.error, next_attempt_at=decision.next_attempt_at
    )
