"""What the request handlers share: built once at start-up, stored on `app.state.relay`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from kameleoon_relay.config import Config
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.pipeline.identity import IdentityMap
from kameleoon_relay.server.auth import AdminGuard
from kameleoon_relay.server.committer import Committer
from kameleoon_relay.store import Store


@dataclass
class RelayState:
    config: Config
    store: Store
    pipeline: Pipeline
    admin: AdminGuard
    committer: Committer
    on_stored: Callable[[], None]  # wakes the delivery workers
    identities: IdentityMap  # visitor-code links, loaded from the store at start

    def source_for(self, write_key: str | None) -> str | None:
        """The name of the source `write_key` belongs to, or None."""
        if not write_key:
            return None
        source = self.config.source_for_write_key(write_key)
        return source.name if source else None


def relay_of(request: Request) -> RelayState:
    return request.app.state.relay
