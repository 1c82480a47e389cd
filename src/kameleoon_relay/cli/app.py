"""The Typer application that every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="kameleoon-relay",
    help="Self-hostable, Segment-compatible event relay for Kameleoon.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
