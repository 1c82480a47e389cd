"""The Typer application that every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

from kameleoon_relay import __version__

app = typer.Typer(
    name="kameleoon-relay",
    help="Self-hostable, Segment-compatible event relay for Kameleoon.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain Click help: the Rich panels label every flag, --help included, `<bool>`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"kameleoon-relay {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Self-hostable, Segment-compatible event relay for Kameleoon."""
