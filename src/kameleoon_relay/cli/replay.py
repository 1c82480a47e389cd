"""`kameleoon-relay replay`: send stored events again through the config in force."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated

import typer

from kameleoon_relay.cli.app import app
from kameleoon_relay.cli.options import OptionalConfig, exit_with_error

if TYPE_CHECKING:
    from kameleoon_relay.delivery.replay import ReplayReport, ReplaySelection
    from kameleoon_relay.pipeline import Pipeline


@app.command()
def replay(
    config: OptionalConfig = None,
    state: Annotated[
        str, typer.Option(help="Which deliveries: dead, failed, delivered, filtered or all.")
    ] = "dead",
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
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    message_id: Annotated[
        str | None, typer.Option(help="Only the event with this messageId.")
    ] = None,
    user_id: Annotated[str | None, typer.Option(help="Only events of this userId.")] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would be sent, per destination and action."),
    ] = False,
) -> None:
    """Requeue matching deliveries with a fresh retry window; a running relay sends them,
    planned with the current config (so a fixed key, endpoint or mapping applies)."""
    from kameleoon_relay.cli.store_access import config_for
    from kameleoon_relay.config import ConfigError
    from kameleoon_relay.delivery.replay import ReplaySelection
    from kameleoon_relay.durations import parse_moment
    from kameleoon_relay.errors import RelayError
    from kameleoon_relay.pipeline import Pipeline

    try:
        now = time.time()
        selection = ReplaySelection(
            state=state,
            since=parse_moment(since, now, "--since") if since is not None else None,
            until=parse_moment(until, now, "--until") if until is not None else None,
            destination=destination,
            message_id=message_id,
            user_id=user_id,
        )
        cfg = config_for(config)
        report = asyncio.run(_replay(Pipeline(cfg), selection, dry_run))
    except (ConfigError, RelayError, ValueError, OverflowError) as exc:
        exit_with_error(exc)
    _print(report, selection)


async def _replay(pipeline: Pipeline, selection: ReplaySelection, dry_run: bool) -> ReplayReport:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from kameleoon_relay.cli.store_access import opened_store
    from kameleoon_relay.delivery.replay import replay

    console = Console(stderr=True)  # the bar on stderr: stdout is only the result
    async with opened_store(pipeline.config) as store:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            transient=True,
            console=console,
            disable=not console.is_terminal,  # no stray lines in pipes and logs
        ) as progress:
            task = progress.add_task("planning" if dry_run else "requeueing", total=None)
            return await replay(
                store,
                pipeline,
                selection,
                dry_run=dry_run,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )


def _print(report: ReplayReport, selection: ReplaySelection) -> None:
    import orjson

    noun = "deliver" + ("y" if report.matched == 1 else "ies")
    if not report.dry_run:
        typer.echo(f"requeued {report.requeued} {selection.state} {noun}")
        return
    typer.echo(f"would requeue {report.matched} {selection.state} {noun} (dry run)")
    for destination, counts in sorted(report.plan.items()):
        for label, n in sorted(counts.items()):
            typer.echo(f"  {destination}  {label}: {n}")
    if report.example is not None:
        typer.echo("example request (API key masked):")
        typer.echo(orjson.dumps(report.example, option=orjson.OPT_INDENT_2).decode())
