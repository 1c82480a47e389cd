"""What `serve` and `check-config` check before anything runs: one line per problem, exit 2."""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING, NoReturn

import typer

from kameleoon_relay.cli.inputs import USAGE_ERROR
from kameleoon_relay.config.checks import config_problems, database_problems, display_database

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from kameleoon_relay.config import Config


def checked_config(path: str | Path) -> Config:
    """The config at `path`, refused (ConfigError) as `serve` refuses it.

    Every command that loads a config comes here, so none of them works with a file
    that `serve` would refuse (`preview` would show requests Kameleoon never gets).
    """
    from kameleoon_relay.config import ConfigError, load_config

    config = load_config(path)
    problems = startup_problems(config)
    if problems:
        raise ConfigError(problems)
    return config


def load_checked(path: str | Path) -> Config:
    """checked_config, or exit 2 with serve's lines."""
    from kameleoon_relay.config import ConfigError

    try:
        return checked_config(path)
    except ConfigError as error:
        fail_with(error.problems)


def queue_problems(config: Config) -> list[str]:
    """serve's checks of the database alone, for the commands that only read the queue."""
    problems = database_problems(config.database)
    return problems or _store_problems(config.database, config.dedupe_window)


def startup_problems(config: Config) -> list[str]:
    """Everything that would make `serve` fail or every delivery fail, as one-line messages."""
    problems = config_problems(config)
    if not any(problem.startswith("database:") for problem in problems):
        problems.extend(_store_problems(config.database, config.dedupe_window))
    return problems


def _store_problems(url: str, dedupe_window: float) -> list[str]:
    """What the store itself refuses (options, schemes it does not implement yet)."""
    from kameleoon_relay.store import open_store

    try:
        open_store(url, dedupe_window)  # builds the store object only: no connection, no file
    except ValueError as error:
        message = " ".join(str(error).split()).replace(url, display_database(url))
        return [message if message.startswith("database") else f"database: {message}"]
    return []


def port_problem(host: str, port: int) -> str | None:
    """Whether uvicorn could listen on host:port, found by binding as it will, then letting go."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # uvicorn sets SO_REUSEADDR too: a port in TIME_WAIT is free for both.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return (
                f"port {port} on {host} is already in use (another relay?); stop that "
                "process or choose another port with --port"
            )
        if error.errno == errno.EACCES:
            return f"no permission to listen on port {port}; choose one above 1023 with --port"
        if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
            return f"cannot listen on {host!r}: not an address of this machine; check --host"
        return f"cannot listen on {host}:{port} ({error.strerror or error}); check --host/--port"
    return None


def refuse(problems: list[str]) -> None:
    """Exit 2 with one line per problem, when there is any."""
    if problems:
        fail_with(problems)


def fail_with(problems: Iterable[str]) -> NoReturn:
    typer.echo("\n".join(f"error: {' '.join(problem.split())}" for problem in problems), err=True)
    raise typer.Exit(USAGE_ERROR)


def warn(warnings: Iterable[str]) -> None:
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)


def check_before_serving(
    config: Config, host: str, port: int, sandbox_path: str, sandbox_mounted: bool
) -> None:
    """Refuse what would fail once serving (before the banner, so it never shows), warn the rest.

    A busy port is found by binding it first: uvicorn would print its banner, then fail.
    """
    from kameleoon_relay.config.checks import unmounted_sandbox_warnings
    from kameleoon_relay.config.lint import config_warnings

    problems = startup_problems(config)
    busy = port_problem(host, port)
    refuse([*problems, busy] if busy else problems)
    warn(unmounted_sandbox_warnings(config, sandbox_path, port, sandbox_mounted))
    warn(config_warnings(config))
    warn(config.overlay_warnings)
