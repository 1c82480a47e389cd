"""A throwaway PostgreSQL for the tests: `initdb` + `pg_ctl` in a temporary folder.

Run as the `postgres` user when we are root (PostgreSQL refuses to run as root), on a
free loopback port, with its unix socket in the same folder; stopped and removed at
the end. `fast=True` turns fsync off: the tests never lose power, and they run faster.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.processes import free_port

SERVICE_USER = "postgres"


def bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


def missing_reason() -> str | None:
    """Why no throwaway PostgreSQL can run here, or None."""
    if bin_dir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql; scripts/test does)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return f"running as root without a {SERVICE_USER!r} user to run PostgreSQL as"
    return None


@dataclass
class PostgresServer:
    """One cluster. `url(dbname)` is a libpq URL over TCP on 127.0.0.1."""

    directory: Path
    port: int
    fast: bool = True
    _bin: Path = field(init=False)

    def __post_init__(self) -> None:
        found = bin_dir()
        if found is None:
            raise RuntimeError("PostgreSQL binaries not found")
        self._bin = found

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SERVICE_USER}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        command = [str(self._bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, SERVICE_USER)
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", SERVICE_USER,
            "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.directory}'",
            "max_connections": "200",
            "shared_buffers": "64MB",
        }
        if self.fast:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        log = self.directory / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def is_running(self) -> bool:
        try:
            self._run("pg_ctl", "-D", str(self.data), "status")
        except subprocess.CalledProcessError:
            return False
        return True

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY file_copy')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def running_postgres(fast: bool = True) -> Iterator[PostgresServer]:
    """A started cluster in a new temporary folder, stopped and removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="relay-pg-"))
    server = PostgresServer(directory, free_port(), fast=fast)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
