"""The validated configuration, as immutable data."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kameleoon_relay.secrets import mask_settings

# The one place for each default of the configuration.
DEFAULT_DATABASE = "sqlite:///./.kameleoon-relay/relay.db"
DEFAULT_DEDUPE_WINDOW = 24 * 3600.0
DEFAULT_RETRY_WINDOW = 4 * 3600.0
DEFAULT_RETENTION = 7 * 24 * 3600.0
MIN_ADMIN_TOKEN = 16  # characters: shorter tokens are refused at load
AUTO = "auto"
# delivery.ordering: per_user holds each user's later events while an earlier one is in
# flight or waits for a retry; none sends every due event at once.
ORDERINGS = ("per_user", "none")
DEFAULT_ORDERING = "per_user"
# The hot-user escape: a user with more deliveries than this waiting for one destination
# is sent unordered until it is back under, so one user cannot hold the queue
# (RudderStack's router uses 200 too).
DEFAULT_HOT_USER_BACKLOG = 200
ADAPTIVE = "adaptive"
DEFAULT_INITIAL_CONCURRENCY = 16
# Enough for ~8,000 events/s 100 ms away (Little's law); each costs a connection.
DEFAULT_MAX_CONCURRENCY = 1000


def available_cpus() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class SourceConfig:
    name: str
    write_key: str


@dataclass(frozen=True)
class SubscriptionConfig:
    """A mapping as Segment's Public API shapes it; `mapping=None` is the action's default."""

    name: str
    trigger: str
    action: str
    mapping: dict[str, Any] | None = None
    enabled: bool = True


@dataclass(frozen=True)
class DestinationConfig:
    name: str
    type: str
    settings: dict[str, Any]
    endpoint: str
    subscriptions: tuple[SubscriptionConfig, ...]
    sources: tuple[str, ...] | None = None  # None: every source
    filters: tuple[dict[str, Any], ...] = ()
    identity_linking: bool | None = None  # None: the destination type's default
    enabled: bool = True
    # The type's own keys (kameleoon-data-api: token_url, goals, custom_data, batch).
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # The settings hold the API key: reprs end up in logs and tracebacks.
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["settings"] = mask_settings(self.settings)
        shown = ", ".join(f"{name}={value!r}" for name, value in values.items())
        return f"DestinationConfig({shown})"

    def feeds_from(self, source: str | None) -> bool:
        return self.sources is None or source is None or source in self.sources


@dataclass(frozen=True)
class DeliverySettings:
    retry_window: float = DEFAULT_RETRY_WINDOW
    # Requests in flight per destination: "adaptive" (slow start, then AIMD on round-trip
    # time and push-back, between 1 and max_concurrency; delivery/concurrency.py) or fixed.
    concurrency: int | str = ADAPTIVE
    timeout: float = 10.0
    backoff_base: float = 1.0
    backoff_max: float = 600.0
    # How long a claimed delivery is held before any process may take it again (a worker
    # that died, a record that failed): longer than sending its requests can take.
    lease: float = 300.0
    # Queued deliveries past which ingest answers 503 with Retry-After (the SDKs retry).
    max_backlog: int = 1_000_000
    # Delivery-only processes beside the one that serves HTTP (0: that one delivers too).
    # "auto": one on a machine with two cores or more, so that ingest, which holds its
    # process's interpreter while it parses, cannot take delivery's CPU time.
    processes: int | str = AUTO
    ordering: str = DEFAULT_ORDERING  # one of ORDERINGS
    hot_user_backlog: int = DEFAULT_HOT_USER_BACKLOG
    initial_concurrency: int = DEFAULT_INITIAL_CONCURRENCY
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    # Deliveries per second to each destination, shared by every delivery process and every
    # relay on the database (delivery/shared_rate.py). None: no limit of ours (a 429 still
    # pauses the destination and teaches it the endpoint's rate).
    rate_limit: float | None = None

    @property
    def per_user_order(self) -> bool:
        return self.ordering == "per_user"

    @property
    def adaptive(self) -> bool:
        return not isinstance(self.concurrency, int)

    @property
    def concurrency_bound(self) -> int:
        """The most requests a destination may have in flight (sizes pools and claims)."""
        return self.concurrency if isinstance(self.concurrency, int) else self.max_concurrency

    @property
    def starting_concurrency(self) -> int:
        if isinstance(self.concurrency, int):
            return self.concurrency
        return min(self.initial_concurrency, self.max_concurrency)

    def process_count(self) -> int:
        """`processes` with "auto" resolved for this machine."""
        if isinstance(self.processes, int):
            return self.processes
        return 1 if available_cpus() >= 2 else 0


@dataclass(frozen=True)
class Config:
    sources: tuple[SourceConfig, ...]
    destinations: tuple[DestinationConfig, ...]
    database: str = field(default=DEFAULT_DATABASE, repr=False)  # may hold a password
    admin_token: str | None = field(default=None, repr=False)
    # Host names the admin API, dashboard and sandbox controls answer besides loopback's
    # (empty: loopback names only, unless admin_token is set).
    allowed_hosts: tuple[str, ...] = ()
    dedupe_window: float = DEFAULT_DEDUPE_WINDOW
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    retention: float = DEFAULT_RETENTION  # finished work and its events are kept this long
    path: Path | None = None
    overlay: Path | None = None  # subscriptions edited in the dashboard (config/overlay.py)
    # Set by the embedded default: mount the sandbox under /sandbox.
    mount_sandbox: bool = False
    # Where each destination's subscriptions come from: destination name -> file.
    subscriptions_from: dict[str, str] = field(default_factory=dict, compare=False)
    # Fingerprints of each destination's subscriptions as the config file writes them
    # (before the overlay): the overlay keeps the one it was saved over (config/overlay.py).
    config_fingerprints: dict[str, str] = field(default_factory=dict, compare=False)
    # The overlay overriding subscriptions that changed in the config since it was saved.
    overlay_warnings: tuple[str, ...] = field(default=(), compare=False)

    def destination(self, name: str) -> DestinationConfig:
        for destination in self.destinations:
            if destination.name == name:
                return destination
        raise KeyError(name)

    def source_for_write_key(self, write_key: str) -> SourceConfig | None:
        import hmac

        found = None
        for source in self.sources:
            # Compare against every key, in constant time, to leak nothing by timing.
            if hmac.compare_digest(source.write_key.encode(), write_key.encode()):
                found = source
        return found
