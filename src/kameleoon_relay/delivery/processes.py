"""Delivery in processes of its own, beside the one that serves HTTP.

Ingest parses and checks every event while holding its process's interpreter; in the
same process, delivery gets what is left. With `delivery.processes: N` (by default one
on a machine with two cores or more), `serve` starts N processes that only claim and
send, and does not deliver itself. They share the queue through the store (a claim is
atomic and names the process that holds it), and each is tied to `serve`:

- supervised: one that exits is started again, after a delay that doubles while it keeps
  dying (0.5 s up to 5 s), and the work it held is given back at once (`on_exit`);
- woken through a socket pair when `serve` has stored events, so delivery starts at once;
- sending its delivery metrics to `serve` twice a second, for `/metrics`;
- borrowing OAuth tokens from `serve`, which alone fetches them, over a second socket
  pair (delivery/token_link.py): one token per destination for the whole relay;
- reloading the config file when `serve` does (it forwards SIGHUP);
- ending with `serve`, even when `serve` is killed and it is stopped (SIGSTOP): the
  kernel sends it SIGKILL, which needs no running process to act.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

import orjson
from prometheus_client import Counter, Gauge

from kameleoon_relay.coalesce import Coalesced
from kameleoon_relay.config import Config, ConfigError, load_config
from kameleoon_relay.delivery.dispatcher import Dispatcher
from kameleoon_relay.delivery.metrics import DELIVERY_METRICS, snapshot
from kameleoon_relay.delivery.token_link import BorrowedTokens, TokenLender, token_link
from kameleoon_relay.heap import tune_collector
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store import open_store

log = logging.getLogger("kameleoon_relay.delivery")

STOP_SECONDS = 30.0  # a stopping process finishes the requests it sent
METRICS_INTERVAL = 0.5
_PR_SET_PDEATHSIG = 1
_WAKE = b"w"
_MAX_MESSAGE = 1 << 20  # a metrics snapshot; datagrams on a Unix socket stay whole


RESTART_FIRST = 0.5  # seconds before a dead delivery process is started again
RESTART_MAX = 5.0  # the delay doubles while it keeps dying, up to this (resumed within 10 s)
REAP_SECONDS = 5.0
STABLE_SECONDS = 30.0  # a process that ran this long died of something new: delay reset

LIVE_PROCESSES = Gauge(
    "kameleoon_relay_delivery_processes_live",
    "Delivery processes alive beside the serving process (delivery.processes).",
)
RESTARTS = Counter(
    "kameleoon_relay_delivery_process_restarts",
    "Delivery processes started again after one exited.",
)


@dataclass
class _Slot:
    """One of the N delivery processes, across its restarts."""

    number: int
    owner: str = ""  # names its claims in the store, for this start
    process: BaseProcess | None = None
    ours: socket.socket | None = None  # our end of its socket pair
    tokens: socket.socket | None = None  # our end of its token link
    started: float = 0.0
    delay: float = RESTART_FIRST
    restart: asyncio.TimerHandle | None = None


class DeliveryProcesses:
    """The delivery-only processes of one `serve`: `start()` in its event loop, `wake()`
    after storing events, `signal_all(SIGHUP)` after a reload, `await stop()` at the end.
    `current()` is serve's config in force: the token lender's (token_link.py).

    A process that exits is started again, after `on_exit(owner)` gave back its work.
    Each has a datagram socket pair with `serve`: wakes one way, metrics the other.
    Datagrams keep each message whole, and a full socket drops a message instead of
    blocking either side (a wake is already pending; metrics are cumulative, so the
    next snapshot says it all).
    """

    def __init__(
        self,
        config: Config,
        count: int,
        log_level: str,
        log_format: str,
        owner: Callable[[int, int], str] = lambda number, start: f"{number}.{start}",
        on_exit: Callable[[str], Awaitable[object]] | None = None,
        current: Callable[[], Config] | None = None,
    ) -> None:
        self.lender = TokenLender(current or (lambda: config))
        self._context = multiprocessing.get_context("spawn")  # nothing inherited but args
        self._args = (config, log_level, log_format)
        self._owner = owner
        self._on_exit = on_exit
        self._slots = [_Slot(number) for number in range(1, count + 1)]
        self._starts = 0
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def processes(self) -> list[BaseProcess]:
        return [slot.process for slot in self._slots if slot.process is not None]

    def live(self) -> int:
        """How many are alive now (between a death and its restart, fewer)."""
        return sum(1 for process in self.processes if process.is_alive())

    def start(self) -> None:
        for slot in self._slots:
            self._spawn(slot)

    def _spawn(self, slot: _Slot) -> None:
        # On the event loop's thread, always: the kernel's parent-death signal follows
        # the thread that started the child, not the process.
        slot.restart = None
        if self._stopping:
            return
        self._starts += 1
        slot.owner = self._owner(slot.number, self._starts)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        ours.setblocking(False)
        lender, borrower = token_link()
        process = self._context.Process(
            target=_main,
            args=(*self._args, theirs, borrower, os.getpid(), slot.number, slot.owner),
            name=f"kameleoon-relay-delivery-{slot.number}",
            daemon=True,
        )
        process.start()
        theirs.close()  # the child has its own copies now
        borrower.close()
        slot.process, slot.ours, slot.started = process, ours, time.monotonic()
        slot.tokens = lender
        loop = asyncio.get_running_loop()
        loop.add_reader(ours.fileno(), self._receive, ours, process.pid)
        self.lender.attach(lender)
        loop.add_reader(process.sentinel, self._exited, slot)
        LIVE_PROCESSES.set(self.live())

    def _exited(self, slot: _Slot) -> None:
        """Its sentinel became readable: it ended. Say why, give its work back, restart."""
        process = self._reap(slot)
        if self._stopping:
            return
        if time.monotonic() - slot.started >= STABLE_SECONDS:
            slot.delay = RESTART_FIRST
        log.error(
            "delivery process %d (pid %s) %s; its claimed work is given back, restarting in %.1f s",
            slot.number,
            process.pid,
            _why(process.exitcode),
            slot.delay,
        )
        RESTARTS.inc()
        loop = asyncio.get_running_loop()
        slot.restart = loop.call_later(slot.delay, self._spawn, slot)
        slot.delay = min(slot.delay * 2, RESTART_MAX)
        if self._on_exit is not None:
            task = asyncio.create_task(self._give_back(slot.owner))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _reap(self, slot: _Slot) -> BaseProcess:
        """Collect an ended process: its exit code, its last metrics, its socket."""
        process, ours = slot.process, slot.ours
        assert process is not None and ours is not None
        loop = asyncio.get_running_loop()
        loop.remove_reader(process.sentinel)
        # Its sentinel closes just before the kernel makes it reapable: a waiting join
        # (waitpid without WNOHANG), over at once.
        process.join(REAP_SECONDS)
        self._receive(ours, process.pid)  # what it sent last
        loop.remove_reader(ours.fileno())
        ours.close()
        if slot.tokens is not None:
            self.lender.detach(slot.tokens)
            slot.tokens.close()
        DELIVERY_METRICS.retire(process.pid)
        slot.ours = slot.tokens = None
        LIVE_PROCESSES.set(self.live())
        return process

    async def _give_back(self, owner: str) -> None:
        assert self._on_exit is not None
        try:
            await self._on_exit(owner)
        except Exception as exc:  # the lease gives it back later
            log.error("work of a dead delivery process not given back: %s", exc)

    def wake(self) -> None:
        for slot in self._slots:
            if slot.ours is not None:
                with contextlib.suppress(OSError):  # full (a wake is pending) or gone
                    slot.ours.send(_WAKE)

    def signal_all(self, sig: int) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)

    async def stop(self) -> None:
        """SIGTERM each, wait for them to finish what they sent, then make sure they are
        gone; their last metrics are kept."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        for slot in self._slots:
            if slot.restart is not None:
                slot.restart.cancel()
            if slot.ours is not None and slot.process is not None:
                loop.remove_reader(slot.process.sentinel)  # reaped below, not restarted
        self.signal_all(signal.SIGTERM)
        for process in self.processes:
            await asyncio.to_thread(process.join, STOP_SECONDS)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join)
        for slot in self._slots:
            if slot.ours is not None:
                self._reap(slot)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.lender.close()

    @staticmethod
    def _receive(ours: socket.socket, sender: int | None) -> None:
        while True:
            try:
                message = ours.recv(_MAX_MESSAGE)
            except (BlockingIOError, OSError):
                return
            with contextlib.suppress(ValueError, TypeError):
                DELIVERY_METRICS.update(sender, orjson.loads(message))


def _why(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-exitcode).name}"
    return f"exited with code {exitcode}"


def die_with_parent() -> None:
    """Ask the kernel (Linux) for SIGKILL when the parent process dies, even SIGKILLed:
    a child never outlives what started it. SIGKILL, not SIGTERM: a stopped (SIGSTOP)
    process would keep a SIGTERM pending and live on; its claims come back when the
    relay starts again."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _main(
    config: Config,
    log_level: str,
    log_format: str,
    link: socket.socket,
    tokens: socket.socket,
    parent: int,
    number: int,
    owner: str,
) -> None:
    die_with_parent()
    if os.getppid() != parent:  # it died before we asked to follow it
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the serving process's to handle
    from kameleoon_relay import logfilter
    from kameleoon_relay.logs import configure_logging

    configure_logging(log_level, log_format)
    logfilter.install()  # as in serve: a failure repeated is a few lines, not a flood
    link.setblocking(False)
    with contextlib.suppress(OSError):  # room for a large snapshot (many destinations)
        link.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _MAX_MESSAGE)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - pinned, but optional on exotic platforms
        asyncio.run(_deliver(config, link, tokens, number, owner))
    else:
        uvloop.run(_deliver(config, link, tokens, number, owner))


async def _deliver(
    config: Config, link: socket.socket, tokens: socket.socket, number: int, owner: str
) -> None:
    store = open_store(config.database, dedupe_window=config.dedupe_window)
    store.owner = owner  # serve gives back what this one holds if it dies
    # recover=False: in-flight work belongs to whoever claimed it (serve recovers).
    await store.open(recover=False)
    current = [Pipeline(config)]
    borrowed = BorrowedTokens(tokens)  # serve fetches them, for every delivery process
    borrowed.start()
    dispatcher = Dispatcher(store, lambda: current[0], config.delivery, tokens=borrowed)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)

    async def reload() -> None:
        # Read and compiled off the loop; SIGHUPs meanwhile make one more (the last wins).
        if config.path is None:
            return
        try:
            current[0] = await asyncio.to_thread(_compiled, config.path)
        except ConfigError as exc:
            log.error("configuration not reloaded: %s", " ".join(str(exc).split()))
        else:
            dispatcher.wake()

    def woken() -> None:
        with contextlib.suppress(OSError):
            while link.recv(_MAX_MESSAGE):
                pass
        dispatcher.wake()

    loop.add_reader(link.fileno(), woken)
    reloads = Coalesced(reload)
    loop.add_signal_handler(signal.SIGHUP, reloads.request)
    reporter = asyncio.create_task(_report_metrics(link, stopping))
    tune_collector()
    log.info("delivery process %d started", os.getpid())
    try:
        await dispatcher.run(stopping)
    finally:
        stopping.set()
        await reporter
        loop.remove_reader(link.fileno())
        borrowed.close()
        await store.close()


def _compiled(path: Path) -> Pipeline:
    return Pipeline(load_config(path))


async def _report_metrics(link: socket.socket, stopping: asyncio.Event) -> None:
    """Twice a second, and once more at the end (cumulative values: none is lost)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), METRICS_INTERVAL)
        with contextlib.suppress(OSError):  # full or gone: the next one says it all
            link.send(orjson.dumps(snapshot()))
        if stopping.is_set():
            return
