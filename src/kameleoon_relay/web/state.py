"""What the request handlers share: built at start-up, stored on `app.state.relay`.

`config` and `pipeline` are replaced together by a reload; handlers and delivery
workers read them at each use, so queued work is planned with the config in force.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from kameleoon_relay.access import AdminGuard
from kameleoon_relay.config import Config, ConfigError
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.store import Store
from kameleoon_relay.store.backlog import Backlog
from kameleoon_relay.store.committer import Committer
from kameleoon_relay.throttle import FailureThrottle

log = logging.getLogger("kameleoon_relay.server")


@dataclass
class RelayState:
    config: Config
    pipeline: Pipeline
    store: Store
    committer: Committer
    on_stored: Callable[[], None]  # wakes the delivery workers
    loader: Callable[[], Config] | None = None  # reads the config again, for reloads
    after_reload: Callable[[], None] | None = None  # tells other delivery processes
    delivery_alive: Callable[[], bool] = lambda: True  # some process delivers, for /health
    # Wrong admin tokens per client; outlives reloads (and is shared with the sandbox).
    throttle: FailureThrottle = field(default_factory=FailureThrottle)
    admin: AdminGuard = field(init=False)
    backlog: Backlog = field(init=False)

    def __post_init__(self) -> None:
        self.admin = self._guard(self.config)
        self.backlog = Backlog(self.store.queued, lambda: self.config.delivery.max_backlog)

    def _guard(self, config: Config) -> AdminGuard:
        return AdminGuard(config.admin_token, config.allowed_hosts, self.throttle)

    def source_for(self, write_key: str | None) -> str | None:
        """The name of the source `write_key` belongs to, or None."""
        if not write_key:
            return None
        source = self.config.source_for_write_key(write_key)
        return source.name if source else None

    def reload(self) -> Config:
        """Read the config again and put it in force; ConfigError leaves the running one."""
        config, pipeline = self.read_config()
        self.put_in_force(config, pipeline)
        return config

    def read_config(self) -> tuple[Config, Pipeline]:
        """The config file read and compiled again, not yet in force; touches nothing
        shared, so it may run in a worker thread, off the event loop."""
        if self.loader is None:
            raise ConfigError(["this relay was started without a config file to reload"])
        config = self.loader()
        if config.database != self.config.database:
            raise ConfigError(["database: cannot change while running; restart to move it"])
        return config, Pipeline(config)  # compiles: a bad mapping fails here, not later

    def put_in_force(self, config: Config, pipeline: Pipeline) -> None:
        self.config, self.pipeline = config, pipeline
        self.admin = self._guard(config)
        # A record (never rate-limited): which configuration is in force is always told.
        log.info(
            "configuration reloaded%s: %d destination(s)%s",
            f" from {config.path}" if config.path else "",
            len(pipeline.destinations),
            f" ({', '.join(d.name for d in config.destinations)})" if config.destinations else "",
            extra={"record": True},
        )
        self.on_stored()
        if self.after_reload is not None:
            self.after_reload()


def relay_of(request: Request) -> RelayState:
    return request.app.state.relay
