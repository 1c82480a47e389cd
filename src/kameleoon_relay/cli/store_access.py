"""Opening the queue from a command (status, deliveries), beside a running relay."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kameleoon_relay.config import Config
    from kameleoon_relay.store import Store


def config_for(config: Path | None) -> Config:
    """The config given, or serve's embedded default when its database is here.

    Reading the queue needs the database, not the secrets: `${VAR}`s elsewhere may be
    unset, and serve's checks of the database are the ones that apply.
    """
    from kameleoon_relay.cli.preflight import queue_problems
    from kameleoon_relay.config import ConfigError, default_config, load_config
    from kameleoon_relay.config.loader import QUEUE_KEYS

    if config is not None:
        loaded = load_config(config, needed=QUEUE_KEYS)
        if problems := queue_problems(loaded):
            raise ConfigError(problems)
        return loaded
    from kameleoon_relay.cli.serve import DEFAULT_STATE_DIR

    if not (DEFAULT_STATE_DIR / "relay.db").exists():
        raise ValueError(f"no --config given and no {DEFAULT_STATE_DIR / 'relay.db'} here")
    return default_config(DEFAULT_STATE_DIR)


@contextlib.asynccontextmanager
async def opened_store(config: Config) -> AsyncIterator[Store]:
    """The config's store, opened without touching a running relay's in-flight work."""
    from kameleoon_relay.store import open_store

    database = config.database
    if database.startswith("sqlite:///") and ":memory:" not in database:
        path = Path(database.removeprefix("sqlite:///").partition("?")[0])
        if not path.exists():  # do not create an empty queue by mistake
            raise ValueError(f"no database at {path}")
    store = open_store(database, dedupe_window=config.dedupe_window)
    await store.open(recover=False)
    try:
        yield store
    finally:
        await store.close()
