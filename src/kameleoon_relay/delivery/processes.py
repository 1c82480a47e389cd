"""More delivery processes on the same store, for when one core is not enough.

`serve` delivers in its own process; with `delivery.processes: N` it also starts N - 1
processes that only claim and send. They share the queue through the store (a claim
is atomic; a lease covers a process that dies), reload the config file when the
serving process does (it forwards SIGHUP), and end with it, even when it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
from multiprocessing.process import BaseProcess

from kameleoon_relay.config import Config, ConfigError, load_config
from kameleoon_relay.delivery.dispatcher import Dispatcher
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store import open_store

log = logging.getLogger("kameleoon_relay.delivery")

STOP_SECONDS = 30.0  # a stopping process finishes the requests it sent
_PR_SET_PDEATHSIG = 1


def start(config: Config, count: int, log_level: str, log_format: str) -> list[BaseProcess]:
    """Start `count` delivery-only processes for `config` (spawned: nothing inherited)."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(
            target=_main,
            args=(config, log_level, log_format),
            name=f"kameleoon-relay-delivery-{number}",
            daemon=True,
        )
        for number in range(1, count + 1)
    ]
    for process in processes:
        process.start()
    return processes


def signal_all(processes: list[BaseProcess], sig: int) -> None:
    for process in processes:
        if process.is_alive() and process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, sig)


async def stop(processes: list[BaseProcess]) -> None:
    """SIGTERM each, wait for them to finish what they sent, then make sure they are gone."""
    signal_all(processes, signal.SIGTERM)
    for process in processes:
        await asyncio.to_thread(process.join, STOP_SECONDS)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join)


def die_with_parent() -> None:
    """Ask the kernel (Linux) for SIGTERM when the parent process dies, even SIGKILLed:
    a child never outlives what started it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _main(config: Config, log_level: str, log_format: str) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the serving process's to handle
    from kameleoon_relay.logs import configure_logging

    configure_logging(log_level, log_format)
    asyncio.run(_deliver(config))


async def _deliver(config: Config) -> None:
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
            dispatcher.wake()

    loop.add_signal_handler(signal.SIGHUP, reload)
    log.info("delivery process %d started", os.getpid())
    try:
        await dispatcher.run(stopping)
    finally:
        await store.close()
