"""The Typer application that every command module registers on."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import typer.core

from kameleoon_relay import __version__

# The top-level help lists the commands in this order (serve first); others after, by name.
COMMAND_ORDER = (
    "serve",
    "init",
    "check-config",
    "check-auth",
    "preview",
    "status",
    "deliveries",
    "replay",
    "sandbox",
    "fql",
    "map",
    "bench",
)


class _CommandsInOrder(typer.core.TyperGroup):
    """Click lists commands by name and cuts each description at ~60 characters:
    here `serve` comes first and each description is its whole first paragraph."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: index for index, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            paragraph = (command.help or "").strip().split("\n\n", 1)[0]
            rows.append((name, " ".join(paragraph.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    cls=_CommandsInOrder,
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
