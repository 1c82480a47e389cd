"""Delivery in processes of its own, beside the one that serves HTTP.

Ingest parses and checks every event while holding its process's interpreter; in the
same process, delivery gets what is left. With `delivery.processes: N` (by default one
on a machine with two cores or more), `serve` starts N processes that only claim and
send, and does not deliver itself. They share the queue through the store (a claim is
atomic; a lease covers a process that dies), and each is tied to `serve`:

- woken through a socket pair when `serve` has stored events, so delivery starts at once;
- sending its delivery metrics to `serve` twice a second, for `/metrics`;
- reloading the config file when `serve` does (it forwards SIGHUP);
- ending with `serve`, even when `serve` is killed.
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
from multiprocessing.process import BaseProcess

import orjson

from kameleoon_relay.config import Config, ConfigError, load_config
from kameleoon_relay.delivery.dispatcher import Dispatcher
from kameleoon_relay.delivery.metrics import DELIVERY_METRICS, snapshot
from kameleoon_relay.heap import refreeze_heap, tune_collector
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store import open_store

log = logging.getLogger("kameleoon_relay.delivery")

STOP_SECONDS = 30.0  # a stopping process finishes the requests it sent
METRICS_INTERVAL = 0.5
_PR_SET_PDEATHSIG = 1
_WAKE = b"w"
_MAX_MESSAGE = 1 << 20  # a metrics snapshot; datagrams on a Unix socket stay whole


class DeliveryProcesses:
    """The delivery-only processes of one `serve`: `start()` in its event loop, `wake()`
    after storing events, `signal_all(SIGHUP)` after a reload, `await stop()` at the end.

    Each process has a datagram socket pair with `serve`: wakes one way, metrics the
    other. Datagrams keep each message whole, and a full socket drops a message instead
    of blocking either side (a wake is already pending; metrics are cumulative, so the
    next snapshot says it all).
    """

    def __init__(self, config: Config, count: int, log_level: str, log_format: str) -> None:
        context = multiprocessing.get_context("spawn")  # nothing inherited but the args
        self._sockets: list[socket.socket] = []  # our ends
        self._theirs: list[socket.socket] = []  # the children's, until they have them
        self.processes: list[BaseProcess] = []
        for number in range(1, count + 1):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            ours.setblocking(False)
            self._sockets.append(ours)
            self.processes.append(
                context.Process(
                    target=_main,
                    args=(config, log_level, log_format, theirs, os.getpid(), number),
                    name=f"kameleoon-relay-delivery-{number}",
                    daemon=True,
                )
            )
            self._theirs.append(theirs)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for process in self.processes:
            process.start()
        for theirs in self._theirs:
            theirs.close()  # the child has its own copy now
        for number, ours in enumerate(self._sockets, start=1):
            loop.add_reader(ours.fileno(), self._receive, ours, number)

    def wake(self) -> None:
        for ours in self._sockets:
            with contextlib.suppress(OSError):  # full (a wake is pending) or gone
                ours.send(_WAKE)

    def signal_all(self, sig: int) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)

    async def stop(self) -> None:
        """SIGTERM each, wait for them to finish what they sent, then make sure they are
        gone; their last metrics are kept."""
        self.signal_all(signal.SIGTERM)
        for process in self.processes:
            await asyncio.to_thread(process.join, STOP_SECONDS)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join)
        loop = asyncio.get_running_loop()
        for number, ours in enumerate(self._sockets, start=1):
            self._receive(ours, number)  # what they sent last
            loop.remove_reader(ours.fileno())
            ours.close()

    @staticmethod
    def _receive(ours: socket.socket, number: int) -> None:
        while True:
            try:
                message = ours.recv(_MAX_MESSAGE)
            except (BlockingIOError, OSError):
                return
            with contextlib.suppress(ValueError, TypeError):
                DELIVERY_METRICS.update(number, orjson.loads(message))


def die_with_parent() -> None:
    """Ask the kernel (Linux) for SIGTERM when the parent process dies, even SIGKILLed:
    a child never outlives what started it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _main(
    config: Config, log_level: str, log_format: str, link: socket.socket, parent: int, number: int
) -> None:
    die_with_parent()
    if os.getppid() != parent:  # it died before we asked to follow it
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the serving process's to handle
    from kameleoon_relay.logs import configure_logging

    configure_logging(log_level, log_format)
    link.setblocking(False)
    with contextlib.suppress(OSError):  # room for a large snapshot (many destinations)
        link.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _MAX_MESSAGE)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - pinned, but optional on exotic platforms
        asyncio.run(_deliver(config, link, number))
    else:
        uvloop.run(_deliver(config, link, number))


async def _deliver(config: Config, link: socket.socket, number: int) -> None:
    store = open_store(config.database, dedupe_window=config.dedupe_window)
    # recover=False: in-flight work belongs to whoever claimed it; leases settle it.
    await store.open(recover=False)
    current = [Pipeline(config)]
    dispatcher = Dispatcher(store, lambda: current[0], config.delivery)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)

    def reload() -> None:
        if config.path is None:
            return
        try:
            current[0] = Pipeline(load_config(config.path))
        except ConfigError as exc:
            log.error("configuration not reloaded: %s", " ".join(str(exc).split()))
        else:
            refreeze_heap()
            dispatcher.wake()

    def woken() -> None:
        with contextlib.suppress(OSError):
            while link.recv(_MAX_MESSAGE):
                pass
        dispatcher.wake()

    loop.add_reader(link.fileno(), woken)
    loop.add_signal_handler(signal.SIGHUP, reload)
    reporter = asyncio.create_task(_report_metrics(link, stopping))
    tune_collector()
    log.info("delivery process %d started", os.getpid())
    try:
        await dispatcher.run(stopping)
    finally:
        stopping.set()
        await reporter
        loop.remove_reader(link.fileno())
        await store.close()


async def _report_metrics(link: socket.socket, stopping: asyncio.Event) -> None:
    """Twice a second, and once more at the end (cumulative values: none is lost)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), METRICS_INTERVAL)
        with contextlib.suppress(OSError):  # full or gone: the next one says it all
            link.send(orjson.dumps(snapshot()))
        if stopping.is_set():
            return
