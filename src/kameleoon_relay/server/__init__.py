"""The relay's HTTP side: Segment-compatible ingest, the admin API, metrics, health."""

from kameleoon_relay.server.app import SANDBOX_PATH, create_app
from kameleoon_relay.server.runner import run

__all__ = ["SANDBOX_PATH", "create_app", "run"]
