"""Issue 19's command-line defects, each with the case that failed before.

Queue-reading commands run against a real SQLite queue written by the store itself.
"""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kameleoon_relay.store import open_store
from kameleoon_relay.store.models import EventRecord
from tests.cli.test_operator_errors import cli, write
from tests.e2e.stack import SANDBOX_API_KEY, SANDBOX_SITECODE
from tests.helpers.processes import CLI

SECRET_CONFIG = f"""
sources: [{{name: web, write_key: "${{WEB_WRITE_KEY}}"}}]
destinations:
  - name: kameleoon
    type: kameleoon-actions
    endpoint: http://127.0.0.1:9/segmentio
    settings: {{apiKey: "${{KAMELEOON_API_KEY}}", sitecode: {SANDBOX_SITECODE}}}
database: sqlite:///./state/relay.db
admin_token: "${{KAMELEOON_RELAY_ADMIN_TOKEN}}"
"""


def queue_with(config_dir: Path, count: int, start: int = 0) -> None:
    """`count` track events queued for `kameleoon`, as ingest stores them."""
    (config_dir / "state").mkdir(exist_ok=True)

    async def fill() -> None:
        store = open_store(f"sqlite:///{config_dir / 'state' / 'relay.db'}", 86400)
        await store.open()
        try:
            now = time.time()
            await store.ingest(
                [
                    EventRecord(
                        message_id=f"m-{n}",
                        source="web",
                        body=b'{"type":"track","event":"E","userId":"u","messageId":"m-%d"}' % n,
                        received_at=now + n * 0.001,
                        user_id="u",
                        destinations=("kameleoon",),
                    )
                    for n in range(start, start + count)
                ]
            )
        finally:
            await store.close()

    asyncio.run(fill())


UNSET = ("WEB_WRITE_KEY", "KAMELEOON_API_KEY", "KAMELEOON_RELAY_ADMIN_TOKEN")


@pytest.mark.parametrize(
    "args",
    [
        ("deliveries",),
        ("status",),
        ("replay", "--dry-run", "--state", "all"),
    ],
)
def test_reading_the_queue_needs_no_production_secrets(tmp_path: Path, args: tuple) -> None:
    """Defect 6: unset secrets the command does not use are fine (the database is resolved
    from the config's folder, defect 9, whatever the working directory)."""
    config = write(tmp_path, SECRET_CONFIG)
    queue_with(tmp_path, 2)
    result = cli(*args, "-c", str(config), unset=UNSET)
    assert result.returncode == 0, result.stderr
    assert "not set" not in result.stderr


def test_an_unset_database_variable_is_still_an_error_one_line_each(tmp_path: Path) -> None:
    """Defect 6: what the command needs is still required, and each problem is its own line."""
    text = SECRET_CONFIG.replace(
        "database: sqlite:///./state/relay.db", 'database: "${DATABASE_URL}"'
    ).replace("sources: [", "retention: soon\nsources: [")
    config = write(tmp_path, text)
    result = cli("deliveries", "--config", str(config), unset=(*UNSET, "DATABASE_URL"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert all(line.startswith("error: ") for line in lines)
    assert any("database: environment variable DATABASE_URL is not set" in x for x in lines)
    assert any("retention" in line for line in lines)


def test_serve_still_needs_every_secret(tmp_path: Path) -> None:
    config = write(tmp_path, SECRET_CONFIG)
    result = cli("check-config", str(config), unset=UNSET)
    assert result.returncode == 2
    for name in UNSET:
        assert f"environment variable {name} is not set" in result.stderr


def test_deliveries_follow_prints_only_the_limit_then_new_ones(tmp_path: Path) -> None:
    """Defect 8: `--follow --limit 3` printed 3 rows, then up to 500 older ones."""
    config = write(tmp_path, SECRET_CONFIG)
    queue_with(tmp_path, 12)
    follower = subprocess.Popen(
        [*CLI, "deliveries", "-c", str(config), "--follow", "--limit", "3", "--interval", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={name: value for name, value in os.environ.items() if name not in UNSET},
    )
    try:
        assert follower.stdout is not None
        received: queue.Queue[str] = queue.Queue()
        stdout = follower.stdout
        threading.Thread(target=lambda: [received.put(x) for x in stdout], daemon=True).start()

        def lines_within(seconds: float) -> list[str]:
            time.sleep(seconds)
            got = []
            while not received.empty():
                got.append(received.get())
            return got

        first = lines_within(4)  # start-up, the three rows, then several polls
        assert [line.split()[7] for line in first] == [f"messageId=m-{n}" for n in (9, 10, 11)]
        queue_with(tmp_path, 1, start=12)
        later = lines_within(4)
        assert len(later) == 1 and "messageId=m-12" in later[0]
    finally:
        follower.terminate()
        follower.wait(10)


def test_deliveries_since_action_and_no_empty_table(tmp_path: Path) -> None:
    """Defect 12: `--since/--action` as the dashboard has; "no deliveries match" alone."""
    config = write(tmp_path, SECRET_CONFIG)
    queue_with(tmp_path, 2)
    recent = cli("deliveries", "-c", str(config), "--since", "1h", unset=UNSET)
    assert recent.returncode == 0, recent.stderr
    assert "m-0" in recent.stdout and "m-1" in recent.stdout
    future = cli("deliveries", "-c", str(config), "--since", "2999-01-01", unset=UNSET)
    assert future.returncode == 0, future.stderr
    assert future.stdout.strip() == "no deliveries match"
    other = cli("deliveries", "-c", str(config), "--action", "identify", unset=UNSET)
    assert other.stdout.strip() == "no deliveries match"
    bad = cli("deliveries", "-c", str(config), "--since", "yesterday-ish", unset=UNSET)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")


def test_every_config_taking_command_has_dash_c() -> None:
    """Defect 12: `-c/--config` everywhere, check-config included."""
    for command in (
        "serve",
        "check-config",
        "check-auth",
        "preview",
        "status",
        "deliveries",
        "replay",
        "sandbox",
    ):
        result = cli(command, "--help")
        assert result.returncode == 0
        assert "-c, --config" in result.stdout, command


def test_check_config_takes_dash_c(tmp_path: Path) -> None:
    config = write(tmp_path, SECRET_CONFIG)
    env = {"WEB_WRITE_KEY": "wk", "KAMELEOON_API_KEY": SANDBOX_API_KEY}
    for args in ((str(config),), ("-c", str(config)), ("--config", str(config))):
        result = cli("check-config", *args, env=env)
        assert result.returncode == 0, (args, result.stderr)
        assert "valid" in result.stdout
    assert cli("check-config").returncode == 2


def test_top_level_help_lists_serve_first_with_whole_descriptions() -> None:
    result = cli("--help")
    commands = result.stdout.split("Commands:", 1)[1]
    assert commands.split()[0] == "serve"
    assert "..." not in commands
    assert "planned with the current config (so a fixed key, endpoint or mapping" in " ".join(
        commands.split()
    )


def test_check_config_warns_and_refuses_an_unmapped_required_field(tmp_path: Path) -> None:
    """Missing 2: warnings (exit 0) and a required field no directive could resolve (exit 2)."""
    subscription = (
        "    subscriptions:\n"
        "      - {name: T, trigger: 'type = track', action: logEvent, mapping: MAPPING}\n"
    )
    full = (
        '{type: {"@path": "$.type"}, timestamp: {"@path": "$.timestamp"}, '
        'messageId: {"@path": "$.messageId"}}'
    )
    text = SECRET_CONFIG.replace("database:", subscription.replace("MAPPING", full) + "database:")
    env = {"WEB_WRITE_KEY": "wk", "KAMELEOON_API_KEY": SANDBOX_API_KEY}
    warned = cli("check-config", str(write(tmp_path, text)), env=env)
    assert warned.returncode == 0, warned.stderr
    assert "warning: " in warned.stderr and "unquoted value `track`" in warned.stderr
    refused_text = text.replace(', messageId: {"@path": "$.messageId"}', "")
    refused = cli("check-config", str(write(tmp_path, refused_text)), env=env)
    assert refused.returncode == 2
    assert "subscriptions[0].mapping.messageId: required field 'messageId'" in refused.stderr
