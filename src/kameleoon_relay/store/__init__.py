"""The durable queue: events, their per-destination deliveries, attempts, identity links.

`open_store(config.database, dedupe_window=...)` picks the implementation from the URL;
everything else talks to the `Store` interface (`base`), whose read side is written
once; `sqlite` and `postgres` are the dialects; `committer` groups ingest's writes and
`backlog` pushes back when delivery falls behind. Nothing here knows the pipeline.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from kameleoon_relay.store.base import ProgressCallback, Store
from kameleoon_relay.store.errors import DatabaseURLError, StoreUnavailable
from kameleoon_relay.store.models import (
    FINAL_STATES,
    REPLAY_STATES,
    REPORTED_STATES,
    STATES,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryQuery,
    EventRecord,
    IngestResult,
    SentRequest,
    UserOrder,
)
from kameleoon_relay.store.sqlite import SQLiteStore
from kameleoon_relay.store.urls import masked_url

__all__ = [
    "FINAL_STATES",
    "REPLAY_STATES",
    "REPORTED_STATES",
    "STATES",
    "ClaimedDelivery",
    "DatabaseURLError",
    "DeliveryOutcome",
    "DeliveryQuery",
    "EventRecord",
    "IngestResult",
    "ProgressCallback",
    "SQLiteStore",
    "SentRequest",
    "Store",
    "StoreUnavailable",
    "UserOrder",
    "masked_url",
    "open_store",
]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_store(url: str, dedupe_window: float) -> Store:
    """The store a `database:` URL names; call `await store.open()` before use.

    `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite:///:memory:`;
    `?synchronous=normal` trades power-loss safety for speed (process crashes stay safe).
    `postgresql://user:password@host:5432/dbname` (any libpq URL; `?pool_size=10` and
    `?pool_timeout=5` size the connection pool) lets many relay processes share the queue.
    """
    if url.startswith(SQLITE_PREFIX):
        path, _, query = url[len(SQLITE_PREFIX) :].partition("?")
        if not path:
            raise DatabaseURLError(f"database URL {url!r} has no file path")
        options = {key: values[-1] for key, values in parse_qs(query).items()}
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise DatabaseURLError(f"unknown database option(s): {', '.join(sorted(unknown))}")
        return SQLiteStore(
            path, dedupe_window=dedupe_window, synchronous=options.get("synchronous", "full")
        )
    scheme = url.partition(":")[0]
    if scheme in POSTGRES_SCHEMES:
        # Imported here: the embedded default needs no PostgreSQL driver loaded.
        from kameleoon_relay.store.postgres import PostgresStore

        return PostgresStore(url, dedupe_window=dedupe_window)
    raise DatabaseURLError(
        f"database: unknown URL scheme {scheme!r}; expected sqlite:///path/relay.db"
        " or postgresql://user:password@host:5432/dbname"
    )
