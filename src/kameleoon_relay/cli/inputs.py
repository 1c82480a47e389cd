"""Reading user input for the CLI: events as JSON lines or one JSON array."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import orjson
import typer

from kameleoon_relay.js.json_codec import json_stringify
from kameleoon_relay.js.values import UNDEFINED

USAGE_ERROR = 2


def fail(message: str) -> NoReturn:
    """One line on stderr and exit 2: bad input never shows a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(USAGE_ERROR)


def _read_text(source: str) -> tuple[str, str]:
    if source == "-":
        return "<stdin>", sys.stdin.read()
    try:
        return source, Path(source).read_text(encoding="utf-8")
    except OSError as error:
        fail(f"{source}: cannot read ({error.strerror or error})")
    except UnicodeDecodeError:
        fail(f"{source}: not UTF-8 text")


def read_events(source: str) -> Iterator[Any]:
    """Events from a file or stdin: one JSON array, or one JSON value per line."""
    name, text = _read_text(source)
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            fail(f"{name}: invalid JSON array ({error})")
        yield from document
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError as error:
            fail(f"{name}:{number}: invalid JSON on line {number} ({error})")


def read_json_file(source: str) -> Any:
    name, text = _read_text(source)
    try:
        if name.endswith((".yaml", ".yml")):
            import yaml

            return yaml.safe_load(text)
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        fail(f"{name}: invalid JSON ({error})")
    except Exception as error:  # yaml's error classes vary; name the file either way
        fail(f"{name}: invalid YAML ({type(error).__name__})")


def write_json_line(value: Any) -> None:
    """One JSON line; `undefined` prints as null, lone surrogates as JSON.stringify escapes them."""
    try:
        line = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        text = json_stringify(value)
        line = b"null" if text is UNDEFINED else text.encode()
    sys.stdout.buffer.write(line + b"\n")
