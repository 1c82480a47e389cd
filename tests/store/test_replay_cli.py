"""`kameleoon-relay replay` as a real subprocess on a real queue file."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kameleoon_relay.durations import parse_moment
from kameleoon_relay.store import DeliveryOutcome, DeliveryQuery, open_store
from tests.store.store_factories import record

REPO = Path(__file__).resolve().parents[2]
API_KEY = "eyJpZCI6ImRlbW8iLCJzZWNyZXQiOiJkZW1vIn0="
CONFIG = f"""
sources:
  - name: web
    write_key: wk_test
destinations:
  - name: kameleoon
    type: kameleoon-actions
    settings:
      apiKey: {API_KEY}
      sitecode: demosite01
  - name: other
    type: kameleoon-actions
    settings:
      apiKey: {API_KEY}
      sitecode: demosite01
database: sqlite:///{{db}}
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
def db(tmp_path: Path) -> Path:
    return tmp_path / "relay.db"


@pytest.fixture
def config(tmp_path: Path, db: Path) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(CONFIG.format(db=db))
    return path


def replay(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return relay("replay", "--config", str(config), *args)


# (messageId, destination, hours ago, userId, final state)
SEED = [
    ("d-old", "kameleoon", 3.0, "u1", "dead"),
    ("d-other", "other", 3.0, "u2", "dead"),
    ("d-new", "kameleoon", 0.2, "u1", "dead"),
    ("f-1", "kameleoon", 0.2, "u2", "failed"),
    ("ok-1", "kameleoon", 0.2, "u3", "delivered"),
]


async def seed(db: Path, now: float) -> None:
    store = open_store(f"sqlite:///{db}", dedupe_window=86400)
    await store.open()
    for message_id, destination, hours, user_id, _ in SEED:
        await store.ingest(
            [record(message_id, [destination], received_at=now - hours * 3600, user_id=user_id)]
        )
    final = {(m, d): s for m, d, _, _, s in SEED}
    for destination in ("kameleoon", "other"):
        claimed = await store.claim(destination, 10, now, 30)
        await store.record(
            [
                DeliveryOutcome(c.id, c.lease, final[c.message_id, destination], now)  # type: ignore[arg-type]
                for c in claimed
            ]
        )
    await store.close()


async def pending(db: Path) -> set[str]:
    """The messageIds whose delivery is back on the queue."""
    store = open_store(f"sqlite:///{db}", dedupe_window=86400)
    await store.open()
    try:
        rows = await store.list_deliveries(DeliveryQuery(states=("pending",)), limit=100)
        return {row["message_id"] for row in rows}
    finally:
        await store.close()


async def test_dry_run_shows_the_plan_and_changes_nothing(config: Path, db: Path) -> None:
    await seed(db, time.time())
    dry = replay(config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[:4] == [
        "would requeue 3 dead deliveries (dry run)",
        "  kameleoon  logEvent: 2",
        "  other  logEvent: 1",
        "example request (API key masked):",
    ]
    assert '"authorization": "Basic ***"' in dry.stdout
    assert '"messageId": "d-' in dry.stdout
    assert API_KEY not in dry.stdout and API_KEY not in dry.stderr
    assert await pending(db) == set()


async def test_replay_by_since_duration_destination_and_iso(config: Path, db: Path) -> None:
    await seed(db, time.time())
    done = replay(config, "--since", "1h", "--destination", "kameleoon")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "requeued 1 dead delivery"
    assert await pending(db) == {"d-new"}

    iso = replay(config, "--since", "2000-01-01T00:00:00Z")
    assert iso.returncode == 0, iso.stderr
    assert iso.stdout.strip() == "requeued 2 dead deliveries"
    assert await pending(db) == {"d-new", "d-old", "d-other"}


async def test_replay_by_until_duration_and_iso(config: Path, db: Path) -> None:
    now = time.time()
    await seed(db, now)
    done = replay(config, "--until", "1h", "--destination", "other")
    assert done.stdout.strip() == "requeued 1 dead delivery", done.stderr
    assert await pending(db) == {"d-other"}
    # Received before 2 h ago: d-old only (d-other is no longer dead).
    iso = datetime.fromtimestamp(now - 2 * 3600, UTC).isoformat()
    done = replay(config, "--until", iso)
    assert done.stdout.strip() == "requeued 1 dead delivery", done.stderr
    assert await pending(db) == {"d-other", "d-old"}


@pytest.mark.parametrize(
    ("args", "output", "requeued"),
    [
        (["--state", "failed"], "requeued 1 failed delivery", {"f-1"}),
        (["--state", "delivered"], "requeued 1 delivered delivery", {"ok-1"}),
        (["--state", "dead"], "requeued 3 dead deliveries", {"d-old", "d-other", "d-new"}),
        (
            ["--state", "all"],
            "requeued 5 all deliveries",
            {"d-old", "d-other", "d-new", "f-1", "ok-1"},
        ),
        (["--message-id", "d-other"], "requeued 1 dead delivery", {"d-other"}),
        (["--user-id", "u1"], "requeued 2 dead deliveries", {"d-old", "d-new"}),
        (["--state", "all", "--user-id", "u2"], "requeued 2 all deliveries", {"d-other", "f-1"}),
        (["--message-id", "nope"], "requeued 0 dead deliveries", set()),
    ],
)
async def test_replay_selects_by_state_message_and_user(
    config: Path, db: Path, args: list[str], output: str, requeued: set[str]
) -> None:
    await seed(db, time.time())
    result = replay(config, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == output
    assert await pending(db) == requeued


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "error: --since 'yesterday': expected an ISO 8601 time"),
        (["--until", "soon"], "error: --until 'soon': expected an ISO 8601 time"),
        (["--state", "pending"], "error: state must be one of dead, failed, delivered"),
        (["--destination", "nope"], "error: unknown destination 'nope'; configured: kameleoon"),
        (["--since", "1h", "--until", "2h"], "error: since must be before until"),
    ],
)
async def test_bad_input_is_one_line_and_exit_2(
    config: Path, db: Path, args: list[str], message: str
) -> None:
    await seed(db, time.time())
    result = replay(config, *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert await pending(db) == set()


def test_a_missing_database_is_not_created(config: Path, db: Path) -> None:
    result = replay(config)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: no database at {db}"
    assert not db.exists()


def test_parse_moment_reads_durations_and_iso_times() -> None:
    now = 1_700_000_000.0
    assert parse_moment("2h", now) == now - 7200
    assert parse_moment("30m", now) == now - 1800
    assert parse_moment(" 1d ", now) == now - 86400
    assert parse_moment("90", now) == now - 90  # bare number: seconds
    assert parse_moment("2023-11-14T22:13:20Z", now) == now
    assert parse_moment("2023-11-14T23:13:20+01:00", now) == now
    assert parse_moment("2023-11-14T22:13:20", now) == now  # no offset: UTC
    assert parse_moment("2023-11-14", now) == now - (22 * 3600 + 13 * 60 + 20)
    with pytest.raises(ValueError, match=r"^--until 'last tuesday': expected an ISO 8601"):
        parse_moment("last tuesday", now, "--until")
    with pytest.raises(ValueError, match="--since"):
        parse_moment("-2h", now)
