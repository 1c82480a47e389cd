"""`kameleoon-relay serve`: ingest and delivery in one process (the README's main job)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kameleoon_relay.cli.app import app
from kameleoon_relay.config.defaults import STATE_DIR_NAME

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from kameleoon_relay.config import Config

DEFAULT_STATE_DIR = Path(STATE_DIR_NAME)
ANY_INTERFACE = ("0.0.0.0", "::", "")


@app.command()
def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="YAML config file (default: the embedded default, see below)."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the embedded default keeps its SQLite files and key, and the mounted "
            "sandbox its state (default: ./.kameleoon-relay, or beside --config's file)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    database: Annotated[
        str | None,
        typer.Option(
            help="Database URL, instead of the config's: sqlite:///path.db, or"
            " postgresql://user:password@host/db for several relays sharing one queue."
        ),
    ] = None,
    with_sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Also mount the local Kameleoon sandbox at /sandbox (with --config; "
            "the embedded default mounts it when it targets the sandbox); the banner shows "
            "its demo credentials.",
        ),
    ] = False,
    log_format: Annotated[
        str, typer.Option(help="auto (text on a terminal, else json), json or text.")
    ] = "auto",
) -> None:
    """Receive Segment events on /v1/* and deliver them to Kameleoon.

    Without --config: SQLite under ./.kameleoon-relay/, one source whose write key
    is printed, the Kameleoon (Actions) presets, and the sandbox mounted at /sandbox
    as the target (Kameleoon itself when KAMELEOON_API_KEY and KAMELEOON_SITECODE
    are set).
    """
    from kameleoon_relay.cli.preflight import check_before_serving, fail_with
    from kameleoon_relay.config import ConfigError, default_config, load_config
    from kameleoon_relay.config.checks import settings_problems
    from kameleoon_relay.errors import RelayError
    from kameleoon_relay.server import SANDBOX_PATH, create_app, run

    if state_dir is None:
        # Paths of a config are relative to its folder: the sandbox's state too.
        state_dir = config.parent / DEFAULT_STATE_DIR if config else DEFAULT_STATE_DIR
    # The workers post to the mounted sandbox over loopback even when listening wide.
    local_host = "127.0.0.1" if host in ANY_INTERFACE else host

    def loader() -> Config:  # read again on SIGHUP and POST /api/config/reload
        if config is None:
            loaded = default_config(state_dir, os.environ, host=local_host, port=port)
        else:
            loaded = load_config(config)
        # Settings Kameleoon refuses are refused at every reload too, as at start.
        if problems := settings_problems(loaded):
            raise ConfigError(problems)
        # --database wins over the file at every reload, as it did at start.
        return dataclasses.replace(loaded, database=database) if database else loaded

    try:
        cfg = loader()
    except ConfigError as exc:
        fail_with(exc.problems)
    mount = cfg.mount_sandbox or with_sandbox
    check_before_serving(cfg, host, port, SANDBOX_PATH, mount)
    sandbox = None
    if mount:
        from kameleoon_relay.sandbox import create_app as create_sandbox

        state_dir.mkdir(parents=True, exist_ok=True)
        sandbox = create_sandbox(db_path=str(state_dir / "sandbox.db"), retention=cfg.retention)
    try:
        asgi = create_app(
            cfg,
            sandbox=sandbox,
            loader=loader,
            log_level=log_level,
            log_format=log_format,
        )
    except (RelayError, ValueError) as exc:  # a database that is held, away, or misnamed
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print_banner(cfg, f"http://{local_host}:{port}", SANDBOX_PATH if sandbox else None, sandbox)
    # The relay's own lines (reloads, delivery outcomes) and uvicorn's, in one format.
    from kameleoon_relay.logs import FORMATS, configure_logging, uvicorn_log_config

    if log_format not in FORMATS:
        typer.echo(f"error: --log-format must be one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)
    configure_logging(log_level, log_format)
    run(asgi, host, port, log_level=log_level, log_config=uvicorn_log_config())


def _print_banner(
    cfg: Config, base: str, sandbox_path: str | None, sandbox: Starlette | None = None
) -> None:
    """Where to send events and where to look; never the destination's API key."""
    echo = typer.echo
    echo(f"kameleoon-relay listening on {base}")
    echo(f"  dashboard:    {base}/")
    for source in cfg.sources:
        echo(f"  source {source.name!r}: write key {source.write_key}")
    for dest in cfg.destinations:
        echo(f"  destination {dest.name!r} ({dest.type}) -> {dest.endpoint}")
    echo(f"  send events:  POST {base}/v1/track  (or /v1/batch, Basic auth: write key as user)")
    if cfg.sources:
        key = cfg.sources[0].write_key
        echo(
            f"  try it:       curl -u {key}: {base}/v1/track -H 'Content-Type: application/json' "
            '-d \'{"userId":"u1","event":"Signed Up","properties":{"kameleoonVisitorCode":"v1"}}\''
        )
    if sandbox_path:
        echo(f"  sandbox page: {base}{sandbox_path}/  (goals, conversions, visitors)")
        echo(f"  sandbox endpoint: {base}{sandbox_path}/segmentio")
        echo(
            f"  sandbox Data API: endpoint {base}{sandbox_path}  "
            f"token_url {base}{sandbox_path}/oauth/token"
        )
    if sandbox is not None:
        # Demo credentials, public by design: what a config pointing at the sandbox needs.
        for account in sandbox.state.sandbox.config.accounts:
            key, sites = account.api_key_setting, ", ".join(s.sitecode for s in account.sites)
            echo(f"  sandbox credentials (demo): apiKey {key}  sitecode {sites}")
    echo(f"  admin API:    {base}/api/stats  {base}/api/deliveries  ({base}/openapi.json)")
    echo(f"  metrics:      {base}/metrics")
