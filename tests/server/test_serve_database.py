"""`serve` and its database: one relay per SQLite file, a clear line when PostgreSQL
cannot be reached, and never the password."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.e2e.stack import write_config
from tests.helpers.processes import CLI, REPO, free_port, start_server

NOWHERE = "http://127.0.0.1:9"  # deliveries are not the point here


def serve_once(config: Path) -> subprocess.CompletedProcess:
    """`serve` expected to refuse at once: it must not get as far as listening."""
    return subprocess.run(
        [*CLI, "serve", "--config", str(config), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_a_second_serve_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, NOWHERE)
    first = start_server(["serve", "--config", str(config)], tmp_path / "first.log")
    try:
        second = serve_once(config)
        assert second.returncode == 2
        [line] = second.stderr.strip().splitlines()
        assert line.startswith("error: database ")
        assert str(tmp_path / "relay.db") in line and f"pid {first.proc.pid}" in line
        assert "PostgreSQL" in line  # what to use to run several
        # The first relay goes on as before.
        assert httpx.get(f"{first.url}/health").json() == {"status": "ok", "database": "up"}
    finally:
        first.stop()
    # Once the first one is gone, the file is free again.
    again = start_server(["serve", "--config", str(config)], tmp_path / "again.log")
    try:
        assert httpx.get(f"{again.url}/health").status_code == 200
    finally:
        again.stop()


def test_an_unreachable_postgresql_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://relay:s3cret-pw@127.0.0.1:{free_port()}/relay"
    config = write_config(tmp_path, NOWHERE, database=url)
    done = serve_once(config)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach PostgreSQL at postgresql://relay:***@127.0.0.1:")
    assert "s3cret-pw" not in done.stderr + done.stdout


def test_serve_database_option_puts_the_queue_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    config = write_config(tmp_path, NOWHERE)  # its own database: SQLite
    relay = start_server(
        ["serve", "--config", str(config), "--database", pg_url], tmp_path / "relay.log"
    )
    try:
        assert httpx.get(f"{relay.url}/health").json() == {"status": "ok", "database": "up"}
        sent = httpx.post(
            f"{relay.url}/v1/track",
            auth=("wk_e2e_test_key", ""),
            json={"userId": "u1", "event": "Signed Up", "messageId": "pg-1"},
        )
        assert sent.json() == {"success": True}
        stats = httpx.get(f"{relay.url}/api/stats").json()
        assert stats["events"]["received"] == 1
    finally:
        relay.stop()
    assert not (tmp_path / "relay.db").exists()  # the config's SQLite file was not used


def test_check_config_shows_a_postgresql_url_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://relay:s3cret-pw@db.internal:5432/relay?pool_size=20"
    config = write_config(tmp_path, NOWHERE, database=url)
    done = subprocess.run(
        [*CLI, "check-config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "database: postgresql://relay:***@db.internal:5432/relay?pool_size=20" in done.stdout
    assert "s3cret-pw" not in done.stdout + done.stderr
