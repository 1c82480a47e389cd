"""`kameleoon-relay replay` as a real subprocess on a real queue file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from kameleoon_relay.store import AttemptOutcome, open_store
from kameleoon_relay.store.since import parse_since
from tests.store.store_factories import item

REPO = Path(__file__).resolve().parents[2]
CONFIG = """
sources:
  - name: web
    write_key: wk_test
destinations:
  - name: kameleoon
    type: kameleoon-actions
    settings:
      apiKey: eyJpZCI6ImRlbW8iLCJzZWNyZXQiOiJkZW1vIn0=
      sitecode: demosite01
database: sqlite:///{db}
"""


def relay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "relay.db"))
    return path


async def seed(db: Path) -> None:
    """Dead: two events of 3 h ago and one of 10 min ago (to `kameleoon` and `other`)."""
    store = open_store(f"sqlite:///{db}")
    await store.open()
    now = time.time()
    await store.ingest([item("old-1", received_at=now - 3 * 3600)])
    await store.ingest([item("old-2", ["other"], received_at=now - 3 * 3600)])
    await store.ingest([item("new-1", received_at=now - 600)])
    for destination in ("kameleoon", "other"):
        for record in await store.claim(destination, 10, now):
            await store.record_attempt(record.id, AttemptOutcome("dead", now, error="x"))
    await store.close()


async def dead_count(db: Path) -> int:
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:
        return (await store.stats())["deliveries"]["dead"]
    finally:
        await store.close()


async def test_dry_run_then_replay_with_filters(config: Path, tmp_path: Path) -> None:
    db = tmp_path / "relay.db"
    await seed(db)
    dry = relay("replay", "--config", str(config), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == "would requeue 3 dead deliveries (dry run)"
    assert await dead_count(db) == 3

    done = relay("replay", "--config", str(config), "--since", "1h", "--destination", "kameleoon")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "requeued 1 dead delivery"
    assert await dead_count(db) == 2

    iso = relay("replay", "--config", str(config), "--since", "2000-01-01T00:00:00Z")
    assert iso.stdout.strip() == "requeued 2 dead deliveries"
    assert await dead_count(db) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "error: --since 'yesterday': expected an ISO 8601 time"),
        (["--state", "delivered"], "error: --state must be dead or failed, not 'delivered'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(config: Path, args: list[str], message: str) -> None:
    result = relay("replay", "--config", str(config), *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_a_missing_database_is_not_created(config: Path, tmp_path: Path) -> None:
    result = relay("replay", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: no database at {tmp_path / 'relay.db'}"
    assert not (tmp_path / "relay.db").exists()


def test_parse_since_reads_durations_and_iso_times() -> None:
    now = 1_700_000_000.0
    assert parse_since("2h", now) == now - 7200
    assert parse_since("30m", now) == now - 1800
    assert parse_since("1d", now) == now - 86400
    assert parse_since("2023-11-14T22:13:20Z", now) == now
    assert parse_since("2023-11-14T23:13:20+01:00", now) == now
    assert parse_since("2023-11-14T22:13:20", now) == now  # no offset: UTC
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_since("last tuesday", now)
