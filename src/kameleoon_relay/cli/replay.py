"""`kameleoon-relay replay`: put dead or failed deliveries back on the queue."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer

from kameleoon_relay.cli.app import app

DEFAULT_DATABASE = Path(".kameleoon-relay") / "relay.db"  # where `serve` keeps it by default


@app.command()
def replay(
    config: Annotated[
        Path | None,
        typer.Option(help="YAML config file (default: serve's ./.kameleoon-relay/relay.db)."),
    ] = None,
    state: Annotated[str, typer.Option(help="Which deliveries: dead or failed.")] = "dead",
    since: Annotated[
        str | None,
        typer.Option(
            help="Only events received since: ISO 8601 (UTC unless an offset is given) "
            "or a duration ago (2h, 30m, 1d)."
        ),
    ] = None,
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be requeued; change nothing.")
    ] = False,
) -> None:
    """Requeue matching deliveries with a fresh retry window; a running relay sends them."""
    from kameleoon_relay.config import ConfigError, load_config
    from kameleoon_relay.store import REPLAYABLE_STATES
    from kameleoon_relay.store.since import parse_since

    try:
        if state not in REPLAYABLE_STATES:
            raise ValueError(f"--state must be dead or failed, not {state!r}")
        since_ts = parse_since(since, time.time()) if since is not None else None
        if config is not None:
            database = load_config(config).database
        elif DEFAULT_DATABASE.exists():
            database = f"sqlite:///{DEFAULT_DATABASE.resolve()}"
        else:
            raise ValueError(f"no --config given and no {DEFAULT_DATABASE} here")
        count = asyncio.run(_replay(database, state, since_ts, destination, dry_run))
    except (ConfigError, ValueError) as exc:
        message = " ".join(str(exc).split())  # one line, even for multi-problem configs
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from exc
    what = f"{count} {state} deliver{'y' if count == 1 else 'ies'}"
    typer.echo(f"would requeue {what} (dry run)" if dry_run else f"requeued {what}")


async def _replay(
    database: str, state: str, since: float | None, destination: str | None, dry_run: bool
) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from kameleoon_relay.store import open_store

    if database.startswith("sqlite:///") and ":memory:" not in database:
        path = Path(database.removeprefix("sqlite:///").partition("?")[0])
        if not path.exists():  # do not create an empty queue by mistake
            raise ValueError(f"no database at {path}")
    store = open_store(database)
    # recover=False: a relay may be running on this queue; its in-flight work is its own.
    await store.open(recover=False)
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True
        ) as progress:
            task = progress.add_task("checking" if dry_run else "requeueing", total=None)
            return await store.replay(
                state,
                since=since,
                destination=destination,
                dry_run=dry_run,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        await store.close()
