"""Running the relay app under uvicorn, with a graceful stop on SIGTERM.

Connection hygiene (see `connections`): header and body deadlines, a connection
cap below the open-files limit (raised first where allowed), rate-limited logs.
Environment knobs, for operators and tests: KAMELEOON_RELAY_HEADER_TIMEOUT,
KAMELEOON_RELAY_BODY_TIMEOUT (seconds), KAMELEOON_RELAY_MAX_CONNECTIONS.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from starlette.applications import Starlette

from kameleoon_relay import logfilter
from kameleoon_relay.heap import tune_collector
from kameleoon_relay.server import connections

# On SIGTERM uvicorn stops accepting, lets in-flight requests finish (their
# events are stored before they are answered), then runs the lifespan shutdown.
GRACEFUL_SHUTDOWN_SECONDS = 30


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    try:
        value = float(raw)
    except ValueError:
        return default
    return value if value > 0 else default


def guarded_protocol() -> type[connections.GuardedProtocol]:
    """The protocol class with this process's limits."""
    fd_limit = connections.raise_fd_limit()
    wanted = int(_env_number("KAMELEOON_RELAY_MAX_CONNECTIONS", connections.MAX_CONNECTIONS))
    return type(
        "RelayHttpProtocol",
        (connections.GuardedProtocol,),
        {
            "max_connections": connections.connection_cap(fd_limit, wanted),
            "header_timeout": _env_number(
                "KAMELEOON_RELAY_HEADER_TIMEOUT", connections.HEADER_TIMEOUT
            ),
            "body_timeout": _env_number("KAMELEOON_RELAY_BODY_TIMEOUT", connections.BODY_TIMEOUT),
        },
    )


def run(
    app: Starlette,
    host: str,
    port: int,
    log_level: str = "info",
    log_config: dict[str, Any] | None = None,  # None: uvicorn's own
) -> None:
    logging = {"log_config": log_config} if log_config is not None else {}
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # one line per event batch drowns the useful lines
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
        http=guarded_protocol(),
        **logging,
    )
    logfilter.install()  # after uvicorn.Config has set up its handlers
    tune_collector()
    uvicorn.Server(config).run()
