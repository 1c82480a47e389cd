"""Running the relay app under uvicorn, with a graceful stop on SIGTERM."""

from __future__ import annotations

from typing import Any

import uvicorn
from starlette.applications import Starlette

# On SIGTERM uvicorn stops accepting, lets in-flight requests finish (their
# events are stored before they are answered), then runs the lifespan shutdown.
GRACEFUL_SHUTDOWN_SECONDS = 30


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
        **logging,
    )
    uvicorn.Server(config).run()
