"""`kameleoon-relay init [FILE]`: a commented config to start from (the embedded default)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kameleoon_relay.cli.app import app
from kameleoon_relay.cli.inputs import fail


@app.command()
def init(
    file: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path("relay.yaml"),
    port: Annotated[int, typer.Option(help="The port `serve` will listen on.")] = 8080,
) -> None:
    """Write a commented config equal to the embedded default, to edit and serve with -c.

    Refuses to overwrite an existing file.
    """
    from kameleoon_relay.config.defaults import STATE_DIR_NAME, kept_write_key, new_write_key
    from kameleoon_relay.config.starter import starter_config

    # The key the embedded default already hands out beside the file, so SDKs keep working.
    write_key = kept_write_key(file.parent / STATE_DIR_NAME) or new_write_key()
    try:
        with file.open("x", encoding="utf-8") as out:  # "x": never overwrite
            out.write(starter_config(write_key, port, file.name))
    except FileExistsError:
        fail(f"{file} already exists; choose another FILE or move it away first")
    except OSError as error:
        fail(f"{file}: cannot write ({error.strerror or error})")
    typer.echo(f"wrote {file}")
    typer.echo(f"  check it:  kameleoon-relay check-config {file}")
    typer.echo(f"  serve it:  kameleoon-relay serve -c {file} --sandbox")
