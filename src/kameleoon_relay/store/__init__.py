"""The durable queue: events and their per-subscription deliveries.

`open_store(config.database)` picks the implementation from the URL; everything else
talks to the `Store` interface.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from kameleoon_relay.store.base import ProgressCallback, Store
from kameleoon_relay.store.models import (
    REPLAYABLE_STATES,
    STATES,
    AttemptOutcome,
    DeliveryRecord,
    IngestItem,
    IngestResult,
)
from kameleoon_relay.store.sqlite import REPORTED_STATES, SQLiteStore

__all__ = [
    "REPLAYABLE_STATES",
    "REPORTED_STATES",
    "STATES",
    "AttemptOutcome",
    "DeliveryRecord",
    "IngestItem",
    "IngestResult",
    "ProgressCallback",
    "SQLiteStore",
    "Store",
    "open_store",
]

SQLITE_PREFIX = "sqlite:///"


def open_store(url: str, dedupe_window: float = 86400.0) -> Store:
    """The store a `database:` URL names; call `await store.open()` before use.

    `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite:///:memory:`;
    `?synchronous=normal` trades power-loss safety for speed (process crashes stay safe).
    """
    if url.startswith(SQLITE_PREFIX):
        path, _, query = url[len(SQLITE_PREFIX) :].partition("?")
        if not path:
            raise ValueError(f"database URL {url!r} has no file path")
        options = {key: values[-1] for key, values in parse_qs(query).items()}
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise ValueError(f"unknown database option(s): {', '.join(sorted(unknown))}")
        return SQLiteStore(
            path, synchronous=options.get("synchronous", "full"), dedupe_window=dedupe_window
        )
    scheme = url.partition(":")[0]
    if scheme in ("postgresql", "postgres"):
        raise ValueError("database: postgresql:// is not supported yet; use sqlite:///path.db")
    raise ValueError(f"database: unknown URL {url!r}; expected sqlite:///path/relay.db")
