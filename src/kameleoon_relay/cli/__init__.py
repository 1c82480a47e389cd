"""The `kameleoon-relay` command line: one Typer app, one module per command group."""

from __future__ import annotations

from kameleoon_relay.cli.app import app


def main() -> None:
    app()


# Importing the command modules registers their commands on `app`.
from kameleoon_relay.cli import engine  # noqa: E402, F401
from kameleoon_relay.cli import sandbox  # noqa: E402, F401
from kameleoon_relay.cli import serve  # noqa: E402, F401
from kameleoon_relay.cli import replay  # noqa: E402, F401
