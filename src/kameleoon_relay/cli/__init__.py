"""The `kameleoon-relay` command line: one Typer app, one module per command group."""

from __future__ import annotations

# Importing the command modules registers their commands on `app`.
from kameleoon_relay.cli import (  # noqa: F401
    bench,
    deliveries,
    engine,
    init,
    replay,
    sandbox,
    serve,
    status,
)
from kameleoon_relay.cli.app import app


def main() -> None:
    app()
