"""Checks a valid config must also pass before `serve` runs it (`check-config` runs them too).

`load_config` checks the document's shape; these check what the relay will meet
at run time: the database it opens, the credentials Kameleoon reads, the
endpoints it posts to. Every message says what to do, and none shows a secret.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from kameleoon_relay.config.model import Config
from kameleoon_relay.destinations import DESTINATION_TYPES

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")
DATABASE_EXAMPLES = "sqlite:///path/relay.db or postgresql://user@host:5432/dbname"
# Hosts that mean "this machine" in an endpoint URL.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"})
REACH_TIMEOUT = 3.0  # seconds per endpoint; the checks run in parallel


def config_problems(config: Config) -> list[str]:
    """What would stop the relay from working with `config`: database, then settings."""
    return database_problems(config.database) + settings_problems(config)


def database_problems(url: str) -> list[str]:
    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite":
        return _sqlite_problems(url)
    if scheme in POSTGRES_SCHEMES:
        return _postgres_problems(urlsplit(url))
    # Name the scheme only: the rest of the URL may hold a password.
    return [f"database: unsupported scheme {scheme + '://'!r}; use {DATABASE_EXAMPLES}"]


def display_database(url: str) -> str:
    """The database URL with its password masked, fit for a terminal."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def _sqlite_problems(url: str) -> list[str]:
    if not url.startswith(SQLITE_PREFIX):
        return [
            "database: a SQLite URL has three slashes: sqlite:///relative/relay.db "
            "or sqlite:////absolute/relay.db"
        ]
    path = url[len(SQLITE_PREFIX) :].partition("?")[0]
    if not path:
        return ["database: the SQLite URL names no file; use sqlite:///path/relay.db"]
    if path == ":memory:":
        return []
    problem = _sqlite_file_problem(Path(path))
    return [f"database: {problem}"] if problem else []


def _sqlite_file_problem(file: Path) -> str | None:
    if file.is_dir():
        return f"{file} is a folder; name a file in it, such as {file / 'relay.db'}"
    if file.exists() and not os.access(file, os.R_OK | os.W_OK):
        return f"{file} is not readable and writable by this user; fix its permissions"
    return _folder_problem(file.parent)


def _folder_problem(folder: Path) -> str | None:
    """Whether SQLite can create files (the database, -wal, -shm) in `folder`.

    Tried for real, as the store will, and undone: permission bits say little
    to root or on a read-only mount.
    """
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    created: list[Path] = []
    try:
        for part in reversed(missing):
            try:
                part.mkdir()
            except OSError as error:
                return (
                    f"cannot create the folder {part} ({error.strerror or error}); "
                    "choose a path in a folder this user can write"
                )
            created.append(part)
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            return (
                f"cannot create files in {folder} ({error.strerror or error}); "
                "choose a folder this user can write"
            )
        return None
    finally:
        for part in reversed(created):
            with contextlib.suppress(OSError):
                part.rmdir()


def _postgres_problems(parts: SplitResult) -> list[str]:
    """The URL's shape only: whether the server answers is for the store to find out."""
    problems: list[str] = []
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        problems.append("database: the PostgreSQL port must be a number (host:5432)")
    name = parts.path.removeprefix("/")
    if "/" in name:
        problems.append(
            "database: the PostgreSQL database name must be a single path segment "
            "(postgresql://user@host:5432/dbname)"
        )
    return problems  # no host is libpq's local socket: valid


def settings_problems(config: Config) -> list[str]:
    """Settings Kameleoon would refuse (checked for the destinations that send)."""
    problems: list[str] = []
    for index, destination in enumerate(config.destinations):
        check = DESTINATION_TYPES[destination.type].check_settings
        if not destination.enabled or check is None:
            continue
        for key, problem in check(destination.settings).items():
            problems.append(f"destinations[{index}].settings.{key}: {problem}")
    return problems


def is_relay_sandbox(endpoint: str, sandbox_path: str, port: int | None = None) -> bool:
    """Whether `endpoint` is a relay's mounted sandbox on this machine (on `port` if given)."""
    parts = urlsplit(endpoint)
    if parts.hostname not in LOOPBACK_HOSTS or not parts.path.startswith(sandbox_path + "/"):
        return False
    if port is None:
        return True
    try:
        return (parts.port or (443 if parts.scheme == "https" else 80)) == port
    except ValueError:  # not a number: not this relay
        return False


def unmounted_sandbox_warnings(
    config: Config, sandbox_path: str, port: int, mounted: bool
) -> list[str]:
    """Endpoints that post to this relay's /sandbox while it is not mounted: each a 404."""
    if mounted:
        return []
    return [
        f"destinations[{index}].endpoint: {destination.endpoint} is this relay's sandbox, "
        "but the sandbox is not mounted, so every delivery would fail (404); "
        "add --sandbox to mount it"
        for index, destination in enumerate(config.destinations)
        if destination.enabled and is_relay_sandbox(destination.endpoint, sandbox_path, port)
    ]


def endpoint_warnings(
    config: Config,
    sandbox_path: str,
    timeout: float = REACH_TIMEOUT,
    sandbox_answers: Callable[[str], bool] | None = None,
) -> list[str]:
    """Endpoints that do not accept a TCP connection now (deliveries would be retried).

    `sandbox_answers(endpoint)` says whether a relay's sandbox answers there now: one
    that does (a relay serving with --sandbox) needs no warning.
    """
    warnings: list[str] = []
    probes: list[tuple[int, str, int, list[str]]] = []
    for index, destination in enumerate(config.destinations):
        if not destination.enabled:
            continue
        if is_relay_sandbox(destination.endpoint, sandbox_path):
            if sandbox_answers is not None and sandbox_answers(destination.endpoint):
                continue
            warnings.append(
                f"destinations[{index}].endpoint: a relay's sandbox; serve this config "
                "with --sandbox (on that port) so that it exists"
            )
            continue
        parts = urlsplit(destination.endpoint)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            warnings.append(f"destinations[{index}].endpoint: the port is not a number")
            continue
        probes.append((index, parts.hostname or "", port, []))
    threads = [
        # Daemon threads: a name lookup that hangs must not hold up the answer or the exit.
        threading.Thread(target=_connect, args=(host, port, timeout, out), daemon=True)
        for _, host, port, out in probes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    for index, host, port, out in probes:
        reason = out[0] if out else f"no answer within {timeout:g} s"
        if reason:
            warnings.append(
                f"destinations[{index}].endpoint: cannot reach {host}:{port} now ({reason}); "
                "deliveries would be retried: check the URL and the network"
            )
    return warnings


def _connect(host: str, port: int, timeout: float, out: list[str]) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            out.append("")
    except socket.gaierror:
        out.append("unknown host")
    except TimeoutError:
        out.append(f"no answer within {timeout:g} s")
    except OSError as error:
        out.append(error.strerror or type(error).__name__)
