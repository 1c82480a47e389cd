"""`kameleoon-relay sandbox`: run the local Kameleoon-compatible endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kameleoon_relay.cli.app import app


@app.command()
def sandbox(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8091,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="YAML accounts file (default: the demo account)."),
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="SQLite file for the state (default: in memory).")
    ] = None,
    error_rate: Annotated[
        float, typer.Option(help="Share of requests answered with an error.")
    ] = 0.0,
    error_status: Annotated[
        list[int] | None, typer.Option(help="Status for injected errors (repeatable).")
    ] = None,
    rate_limit_rate: Annotated[float, typer.Option(help="Share answered 429.")] = 0.0,
    retry_after: Annotated[int, typer.Option(help="Retry-After seconds sent with 429.")] = 1,
    latency_ms: Annotated[float, typer.Option(help="Delay added to every request.")] = 0.0,
    latency_jitter_ms: Annotated[
        float, typer.Option(help="Each request's delay varies by up to this, either way.")
    ] = 0.0,
    rate_limit: Annotated[
        str | None,
        typer.Option(help="Token bucket: events above N/s (or N/min) get 429 + Retry-After."),
    ] = None,
    timeout_rate: Annotated[float, typer.Option(help="Share that hang (then answer).")] = 0.0,
    hang_seconds: Annotated[float, typer.Option(help="How long a timeout fault hangs.")] = 60.0,
    reset_rate: Annotated[float, typer.Option(help="Share whose connection is reset.")] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Seed for repeatable faults.")] = None,
    retention: Annotated[
        str, typer.Option(help="Forget visitors, events and messageIds older than this.")
    ] = "7d",
) -> None:
    """Serve a Kameleoon-compatible /segmentio endpoint with goals, visitors and a web page."""
    import uvicorn

    from kameleoon_relay.durations import parse_duration, parse_rate
    from kameleoon_relay.sandbox import (
        FaultSettings,
        FaultSettingsError,
        SandboxConfigError,
        create_app,
    )

    try:
        faults = FaultSettings(
            error_rate=error_rate,
            error_statuses=tuple(error_status or (503,)),
            rate_limit_rate=rate_limit_rate,
            retry_after=retry_after,
            latency_ms=latency_ms,
            latency_jitter_ms=latency_jitter_ms,
            rate_limit=parse_rate(rate_limit) if rate_limit else 0.0,
            timeout_rate=timeout_rate,
            hang_seconds=hang_seconds,
            reset_rate=reset_rate,
            seed=seed,
        )
        asgi = create_app(config, db, faults, retention=parse_duration(retention))
    except (SandboxConfigError, FaultSettingsError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for account in asgi.state.sandbox.config.accounts:
        sites = ", ".join(site.sitecode for site in account.sites)
        typer.echo(f"sandbox account {account.api_key.get('id', '?')}: sitecodes {sites}")
    typer.echo(f"sandbox: http://{host}:{port}/ (endpoint http://{host}:{port}/segmentio)")
    clients = [a.client_id for a in asgi.state.sandbox.config.accounts if a.client_id]
    typer.echo(
        f"sandbox Data API: endpoint http://{host}:{port}, "
        f"token_url http://{host}:{port}/oauth/token (clientId: {', '.join(clients) or 'none'})"
    )
    uvicorn.run(
        asgi,
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=2,  # hanging "timeout" faults must not block shutdown
    )
