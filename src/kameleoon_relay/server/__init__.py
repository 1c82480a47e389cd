"""The relay's process: assembles the ASGI app (ingest, admin API, dashboard, metrics,
health, the mounted sandbox) with the store and delivery, and runs it with uvicorn.
Nothing here handles a request itself beyond /health and /metrics."""

from kameleoon_relay.server.app import SANDBOX_PATH, create_app
from kameleoon_relay.server.runner import run

__all__ = ["SANDBOX_PATH", "create_app", "run"]
