"""The relay's ASGI app: ingest, admin API, metrics, health, and optionally the sandbox.

One process runs it all: the lifespan opens the store and starts the delivery
workers (asyncio tasks) beside the HTTP server, and on shutdown lets queued writes
finish, stops the workers, then closes the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from kameleoon_relay import dashboard
from kameleoon_relay.admin import routes as admin
from kameleoon_relay.admin.openapi import openapi_document
from kameleoon_relay.coalesce import Coalesced
from kameleoon_relay.config import Config, ConfigError
from kameleoon_relay.delivery import Dispatcher
from kameleoon_relay.delivery.processes import DeliveryProcesses
from kameleoon_relay.ingest import routes as ingest
from kameleoon_relay.ingest.metrics import record_commit
from kameleoon_relay.ingest.source_log import SourceLog
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.server.health import health
from kameleoon_relay.server.queue_metrics import refresh_queue_gauges
from kameleoon_relay.server.retention import run_retention
from kameleoon_relay.store import open_store
from kameleoon_relay.store.committer import Committer
from kameleoon_relay.store.owner import serving_identity
from kameleoon_relay.throttle import FailureThrottle
from kameleoon_relay.web.responses import JSONResponse
from kameleoon_relay.web.state import RelayState

SANDBOX_PATH = "/sandbox"

log = logging.getLogger("kameleoon_relay.server")


def create_app(
    config: Config,
    sandbox: Starlette | None = None,
    loader: Callable[[], Config] | None = None,
    log_level: str = "info",
    log_format: str = "auto",
) -> Starlette:
    """The relay for `config`; `sandbox` (the sandbox app) is mounted at /sandbox if given;
    `loader` reads the config again on SIGHUP or POST /api/config/reload. Delivery runs
    in `delivery.processes` processes of its own (logging at `log_level` in `log_format`),
    or, with 0, in this one.

    The pipeline is compiled here, before any port is bound, so that a bad
    mapping fails `serve` at once.
    """
    pipeline = Pipeline(config)
    openapi = openapi_document(ingest.ingest_paths())
    # Before any port is bound: a SQLite file another relay serves, or a database that
    # cannot be reached, is a one-line error (StoreUnavailable, a RelayError).
    open_store(config.database, dedupe_window=config.dedupe_window).check_available()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if sandbox is not None:
                # Mounted apps get no lifespan of their own from Starlette.
                await stack.enter_async_context(sandbox.router.lifespan_context(sandbox))
            store = open_store(config.database, dedupe_window=config.dedupe_window)
            await store.open()  # gives back what a relay that died here held
            stack.push_async_callback(store.close)
            serving = serving_identity()  # names the claims of this relay's processes
            store.owner = f"{serving}|0"
            stop = asyncio.Event()
            holder: list[RelayState] = []
            helpers: DeliveryProcesses | None = None
            count = config.delivery.process_count()
            if count:
                helpers = DeliveryProcesses(
                    config,
                    count,
                    log_level,
                    log_format,
                    owner=lambda number, start: f"{serving}|{number}.{start}",
                    on_exit=store.release_owner,  # a dead process's work: back at once
                    # Their OAuth tokens are fetched here, with the config in force.
                    current=lambda: holder[0].config if holder else config,
                )
                helpers.start()
                stack.push_async_callback(helpers.stop)
                wake = helpers.wake
                alive: Callable[[], bool] = lambda: helpers.live() > 0  # noqa: E731
            else:
                dispatcher = Dispatcher(store, lambda: holder[0].pipeline, config.delivery)
                workers = asyncio.create_task(dispatcher.run(stop), name="delivery")
                workers.add_done_callback(_report_crash)
                stack.push_async_callback(_stop_task, stop, workers)
                wake = dispatcher.wake
                alive = lambda: not workers.done()  # noqa: E731

            def on_commit(size: int, result: Any, wake: Callable[[], None] = wake) -> None:
                record_commit(size, result)
                source_log.count_duplicates(result.duplicate_sources)
                wake()

            committer = Committer(store, on_commit=on_commit)
            committer.start()
            stack.push_async_callback(committer.stop)
            relay = RelayState(
                config=config,
                pipeline=pipeline,
                store=store,
                committer=committer,
                on_stored=wake,
                loader=loader,
                delivery_alive=alive,
                throttle=throttle,
            )

            def after_reload() -> None:
                # The delivery processes read the file again; the mounted sandbox's
                # controls follow the admin token in force. No heap refreeze: its full
                # collection held the event loop ~100 ms a reload, and the replaced
                # config leaves a few dozen cyclic objects (see heap.py).
                if helpers is not None:
                    helpers.signal_all(signal.SIGHUP)
                if sandbox is not None:
                    _guard_sandbox(sandbox, relay.config, throttle)

            relay.after_reload = after_reload
            holder.append(relay)
            app.state.relay = relay
            pruning = asyncio.create_task(
                run_retention(store.prune, lambda: relay.config.retention, stop),
                name="retention",
            )
            stack.push_async_callback(_stop_task, stop, pruning)
            reloads = _on_sighup(relay)
            stack.push_async_callback(reloads.wait)  # the one running, once no more come
            stack.callback(_off_sighup)
            yield

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi)

    sessions = dashboard.Sessions()
    source_log = SourceLog()  # duplicates and refused single events, for the Sources page
    routes: list[BaseRoute] = [
        *ingest.routes(),
        *admin.routes(),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", admin.guarded(metrics), methods=["GET"]),  # as the admin API
        Route("/openapi.json", openapi_json, methods=["GET"]),
        # `/`: JSON to API clients, HTML to browsers
        *dashboard.routes(json_index=index, sessions=sessions),
    ]
    throttle = FailureThrottle()  # wrong admin tokens, per client: one count for both apps
    if sandbox is not None:
        _guard_sandbox(sandbox, config, throttle)
        # A logged-in dashboard opens the sandbox's page too (its session cookie).
        sandbox.state.sandbox.viewer = sessions.opener(lambda: app.state.relay.config.admin_token)
        routes.append(Mount(SANDBOX_PATH, app=sandbox))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.source_log = source_log
    return app


def _guard_sandbox(sandbox: Starlette, config: Config, throttle: FailureThrottle) -> None:
    """The mounted sandbox's controls follow the relay's admin rules (access.py)."""
    state = sandbox.state.sandbox
    state.admin_token, state.allowed_hosts, state.throttle = (
        config.admin_token,
        config.allowed_hosts,
        throttle,
    )


def _report_crash(task: asyncio.Task[None]) -> None:
    # Without this a crashed dispatcher would stop delivery silently while ingest goes on.
    if not task.cancelled() and task.exception() is not None:
        log.error("delivery workers stopped", exc_info=task.exception())


async def _stop_task(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await task


def _on_sighup(relay: RelayState) -> Coalesced:
    """`kill -HUP` reloads the config; an invalid one is logged and the running one stays.

    The file is read and compiled in a worker thread, so the event loop goes on serving;
    SIGHUPs that come meanwhile make one more reload after it (the last one wins), never
    a queue of them.
    """

    async def reload() -> None:
        try:
            config, pipeline = await asyncio.to_thread(relay.read_config)
        except ConfigError as exc:
            log.error("configuration not reloaded: %s", " ".join(str(exc).split()))
        else:
            relay.put_in_force(config, pipeline)

    reloads = Coalesced(reload)
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reloads.request)
    return reloads


def _off_sighup() -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)


async def metrics(request: Request) -> Response:
    await refresh_queue_gauges(request.app.state.relay)  # queue depth, read at scrape time
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def index(request: Request) -> Response:
    """Where things are, datasette-style: every page has a JSON twin."""
    links = {
        "ingest": "/v1/batch",
        "openapi": "/openapi.json",
        "stats": "/api/stats",
        "deliveries": "/api/deliveries",
        "metrics": "/metrics",
        "health": "/health",
        "dashboard": "/",
    }
    if any(isinstance(r, Mount) and r.path == SANDBOX_PATH for r in request.app.routes):
        links["sandbox"] = f"{SANDBOX_PATH}/"
    return JSONResponse({"name": "kameleoon-relay", "links": links})
