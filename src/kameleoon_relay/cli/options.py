"""Options and error output shared by the commands, so they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from kameleoon_relay.cli.inputs import USAGE_ERROR

DEFAULT_CONFIG_HINT = "serve's embedded default (./.kameleoon-relay/)"

# `-c/--config` on every command that takes a config; optional where the embedded default
# (serve's ./.kameleoon-relay/) stands in.
OptionalConfig = Annotated[
    Path | None,
    typer.Option("--config", "-c", help=f"YAML config file (default: {DEFAULT_CONFIG_HINT})."),
]


def exit_with_error(error: BaseException) -> NoReturn:
    """One `error:` line per problem (a config error has several), then exit 2."""
    problems = getattr(error, "problems", None) or [str(error)]
    typer.echo("\n".join(f"error: {' '.join(str(p).split())}" for p in problems), err=True)
    raise typer.Exit(USAGE_ERROR) from error
