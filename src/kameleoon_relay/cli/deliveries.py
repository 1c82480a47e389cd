"""`kameleoon-relay deliveries`: the delivery log in the terminal, or followed live.

Reads the queue directly (like `replay`). `--follow` prints one line each time a
delivery appears or changes state, until interrupted.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from kameleoon_relay.cli.app import app
from kameleoon_relay.cli.options import OptionalConfig, exit_with_error

FOLLOW_WINDOW = 500  # deliveries watched for state changes


@app.command()
def deliveries(
    config: OptionalConfig = None,
    state: Annotated[
        str | None,
        typer.Option(help="pending, retrying, in_flight, delivered, filtered, failed or dead."),
    ] = None,
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action (e.g. logEvent).")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Events received since: ISO 8601 (UTC unless an offset is given) "
            "or a duration ago (2h, 30m, 1d)."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Events received before: ISO 8601 or a duration ago.")
    ] = None,
    message_id: Annotated[str | None, typer.Option(help="Only this messageId.")] = None,
    user_id: Annotated[str | None, typer.Option(help="Only this userId.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new deliveries and changes.")
    ] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between polls.")] = 1.0,
) -> None:
    """List deliveries, newest first, with their state, last status and error."""
    from kameleoon_relay.cli.store_access import config_for
    from kameleoon_relay.config import ConfigError
    from kameleoon_relay.durations import parse_moment
    from kameleoon_relay.errors import RelayError
    from kameleoon_relay.store import REPORTED_STATES, DeliveryQuery

    if state is not None and state not in REPORTED_STATES:
        typer.echo(f"error: --state must be one of {', '.join(REPORTED_STATES)}", err=True)
        raise typer.Exit(2)
    try:
        now = time.time()
        query = DeliveryQuery(
            states=(state,) if state else (),
            destination=destination,
            action=action,
            message_id=message_id,
            user_id=user_id,
            since=parse_moment(since, now, "--since") if since is not None else None,
            until=parse_moment(until, now, "--until") if until is not None else None,
        )
        cfg = config_for(config)
        asyncio.run(_run(cfg, query, limit, follow, interval))
    except (ConfigError, RelayError, ValueError, OverflowError) as exc:
        exit_with_error(exc)
    except KeyboardInterrupt:
        pass


async def _run(cfg: Any, query: Any, limit: int, follow: bool, interval: float) -> None:
    from kameleoon_relay.cli.store_access import opened_store

    async with opened_store(cfg) as store:
        rows = await store.list_deliveries(query, limit)
        if not follow:
            _table(rows)
            return
        seen: dict[int, str] = {}
        for row in reversed(rows):
            _line(row)
            seen[row["id"]] = row["state"]
        # Older deliveries than those shown stay out: `--limit` chose how far back to go.
        newest_shown = max(seen, default=-1)
        while True:
            await asyncio.sleep(interval)
            rows = await store.list_deliveries(query, FOLLOW_WINDOW)
            for row in reversed(rows):
                if row["id"] not in seen and row["id"] <= newest_shown:
                    continue
                if seen.get(row["id"]) != row["state"]:
                    _line(row)
                    seen[row["id"]] = row["state"]
            if len(seen) > 4 * FOLLOW_WINDOW:  # forget the oldest
                seen = dict(sorted(seen.items())[-FOLLOW_WINDOW:])


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _line(row: dict[str, Any]) -> None:
    parts = [
        _when(row.get("last_attempt_at") or row["received_at"]),
        f"#{row['id']}",
        row["destination"],
        row["action"] or "-",
        row["state"],
        str(row["last_status"] or "-"),
        f"messageId={row['message_id']}",
    ]
    if row.get("last_error"):
        parts.append(f"error={' '.join(str(row['last_error']).split())}")
    sys.stdout.write("  ".join(parts) + "\n")
    sys.stdout.flush()


def _table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not rows:
        typer.echo("no deliveries match")
        return
    table = Table()
    columns = ("id", "received (UTC)", "destination", "action", "state", "attempts", "status")
    for column in (*columns, "messageId", "userId", "last error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["id"]),
            _when(row["received_at"]),
            row["destination"],
            row["action"] or "-",
            row["state"],
            str(row["attempts"]),
            str(row["last_status"] or "-"),
            row["message_id"],
            row["user_id"] or "-",
            row["last_error"] or "",
        )
    Console(width=160).print(table)
