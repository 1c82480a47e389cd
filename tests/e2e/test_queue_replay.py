"""The queue holds events: a corrected config applies to replayed work; retention; no secret
at rest. Real relay and sandbox processes over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.e2e.stack import WRITE_KEY, relay, sandbox, wait_for, write_config
from tests.helpers.processes import REPO

ADMIN_TOKEN = "queue-replay-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CANARY_SECRET = "CANARY-SECRET-7f3a9q"
CANARY_KEY = base64.b64encode(orjson.dumps({"id": "canary", "secret": CANARY_SECRET})).decode()
CANARY_SITE = "canarysite"
WRONG_KEY = base64.b64encode(b'{"id":"nobody","secret":"wrong-wrong"}').decode()


def accounts_file(directory: Path) -> Path:
    """A sandbox account whose key is recognisable anywhere it might leak."""
    path = directory / "accounts.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {"api_key": {"id": "demo", "secret": "demo"}, "sitecodes": ["demosite01"]},
                    {
                        "api_key": {"id": "canary", "secret": CANARY_SECRET},
                        "sitecodes": [CANARY_SITE],
                    },
                ]
            }
        )
    )
    return path


def destination(url: str, api_key: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "kameleoon",
        "type": "kameleoon-actions",
        "endpoint": f"{url}/segmentio",
        "settings": {"apiKey": api_key, "sitecode": CANARY_SITE},
        **extra,
    }


def configure(directory: Path, url: str, dest: dict[str, Any], **extra: Any) -> Path:
    return write_config(directory, url, admin_token=ADMIN_TOKEN, destinations=[dest], **extra)


def post_events(url: str, events: list[dict[str, Any]]) -> None:
    answer = httpx.post(f"{url}/v1/batch", json={"batch": events}, auth=(WRITE_KEY, ""), timeout=10)
    assert answer.status_code == 200, answer.text


def track(user: str, name: str = "Order Completed") -> dict[str, Any]:
    return {
        "type": "track",
        "event": name,
        "userId": user,
        "messageId": f"m-{uuid.uuid4().hex}",
        "properties": {"kameleoonVisitorCode": f"vc-{user}"},
    }


def stats(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/api/stats", headers=ADMIN, timeout=10).json()


def states(url: str) -> dict[str, int]:
    return stats(url)["deliveries"]


def deliveries(url: str, **params: Any) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/deliveries", params=params, headers=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["deliveries"]


def accepted(sandbox_url: str) -> int:
    return httpx.get(f"{sandbox_url}/api/stats", timeout=10).json()["accepted"]


def replay_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", "replay", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


@pytest.fixture
def boxes(tmp_path: Path):
    """Two sandboxes: the endpoint a wrong config points at, and the right one."""
    accounts = accounts_file(tmp_path)
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    with (
        sandbox(old_dir, "--config", str(accounts)) as old,
        sandbox(new_dir, "--config", str(accounts)) as new,
    ):
        yield old, new


def test_a_corrected_key_and_endpoint_apply_on_replay_after_restart(
    tmp_path: Path, boxes: Any
) -> None:
    old, new = boxes
    config = configure(tmp_path, old.url, destination(old.url, WRONG_KEY))
    events = [track("u1") for _ in range(3)]
    with relay(config, tmp_path) as r:
        post_events(r.url, events)
        wait_for(lambda: states(r.url)["failed"] == 3, "three 401 failures")
        [row] = deliveries(r.url, message_id=events[0]["messageId"])
        assert row["last_status"] == 401
    # Correct the key and the endpoint, restart, replay from the command line.
    configure(tmp_path, new.url, destination(new.url, CANARY_KEY))
    dry = replay_cli(config, "--state", "failed", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would requeue 3 failed deliveries" in dry.stdout
    assert "kameleoon  logEvent: 3" in dry.stdout
    assert f"{new.url}/segmentio" in dry.stdout and CANARY_KEY not in dry.stdout
    with relay(config, tmp_path) as r:
        done = replay_cli(config, "--state", "failed")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("requeued 3 failed deliveries")
        wait_for(lambda: states(r.url)["delivered"] == 3, "the replayed events delivered")
        [row] = deliveries(r.url, message_id=events[0]["messageId"])
        detail = httpx.get(f"{r.url}/api/deliveries/{row['id']}", headers=ADMIN).json()
    assert accepted(new.url) == 3 and accepted(old.url) == 0
    assert [a["status"] for a in detail["history"]] == [401, 200]
    assert detail["request"]["url"] == f"{new.url}/segmentio"  # the corrected endpoint
    assert detail["request"]["headers"]["authorization"] == "Basic ***"


@pytest.mark.parametrize("how", ["api", "sighup"])
def test_reload_puts_a_fixed_mapping_in_force_for_replay(
    tmp_path: Path, boxes: Any, how: str
) -> None:
    _, box = boxes
    broken = {
        "name": "Orders",
        "trigger": 'type = "track"',
        "action": "logEvent",
        # `type` is required and read from where these events have nothing: every event
        # fails payload validation, nothing is sent. (Left unmapped, the config is refused.)
        "mapping": {
            "event": {"@path": "$.event"},
            "type": {"@path": "$.properties.kind"},
            "timestamp": {"@path": "$.timestamp"},
            "messageId": {"@path": "$.messageId"},
        },
    }
    config = configure(tmp_path, box.url, destination(box.url, CANARY_KEY, subscriptions=[broken]))
    with relay(config, tmp_path) as r:
        post_events(r.url, [track("u2"), track("u2")])
        wait_for(lambda: states(r.url)["failed"] == 2, "two validation failures")
        [row, _] = deliveries(r.url, state="failed")
        assert "type" in row["last_error"] and row["attempts"] == 1
        assert accepted(box.url) == 0
        # An invalid config is refused and the running one stays.
        config.write_text("sources: [")
        bad = httpx.post(f"{r.url}/api/config/reload", headers=ADMIN)
        assert bad.status_code == 422 and "line 1" in bad.text
        fixed = {**broken, "mapping": None}
        configure(tmp_path, box.url, destination(box.url, CANARY_KEY, subscriptions=[fixed]))
        if how == "api":
            answer = httpx.post(f"{r.url}/api/config/reload", headers=ADMIN)
            assert answer.status_code == 200 and answer.json()["reloaded"] is True
        else:
            r.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "configuration reloaded" in r.log(), "the SIGHUP reload")
        answer = httpx.post(f"{r.url}/api/replay", json={"state": "failed"}, headers=ADMIN)
        assert answer.json()["requeued"] == 2
        wait_for(lambda: states(r.url)["delivered"] == 2, "the fixed mapping delivering")
    assert accepted(box.url) == 2


def test_replay_of_delivered_events_by_user_and_time_window(tmp_path: Path, boxes: Any) -> None:
    _, box = boxes
    config = configure(tmp_path, box.url, destination(box.url, CANARY_KEY))
    with relay(config, tmp_path) as r:
        post_events(r.url, [track("alice"), track("alice"), track("bob")])
        wait_for(lambda: states(r.url)["delivered"] == 3, "three deliveries")
        before = httpx.get(f"{box.url}/api/stats").json()
        # Nothing was received in the future, nor before an hour ago.
        nothing = {"state": "delivered", "since": "2999-01-01T00:00:00Z"}
        assert httpx.post(f"{r.url}/api/replay", json=nothing, headers=ADMIN).json()["matched"] == 0
        old = replay_cli(config, "--state", "delivered", "--until", "1h")
        assert old.stdout.startswith("requeued 0"), old.stdout + old.stderr
        by_user = replay_cli(config, "--state", "delivered", "--user-id", "alice", "--since", "1h")
        assert by_user.stdout.startswith("requeued 2 delivered"), by_user.stdout + by_user.stderr
        httpx.post(f"{r.url}/api/replay", json={"state": "pending"}, headers=ADMIN)  # a no-op
        wait_for(
            lambda: (
                httpx.get(f"{box.url}/api/stats").json()["duplicates"] == before["duplicates"] + 2
            ),
            "Kameleoon to see alice's two events again, as duplicates",
        )
        unknown = replay_cli(config, "--destination", "nope")
        assert unknown.returncode == 2 and "unknown destination 'nope'" in unknown.stderr
        assert unknown.stderr.count("\n") == 1
        wait_for(lambda: states(r.url)["delivered"] == 3, "the replays delivered again")


def test_retention_prunes_finished_work_and_keeps_pending(tmp_path: Path, boxes: Any) -> None:
    _, box = boxes
    # A second destination that never answers well keeps its work pending (retrying).
    failing = {
        **destination(box.url, CANARY_KEY),
        "name": "down",
        "endpoint": "http://127.0.0.1:9/segmentio",
    }
    config = configure(
        tmp_path,
        box.url,
        destination(box.url, CANARY_KEY),
        retention="2s",
        dedupe_window="1s",
        delivery={"retry_window": "1h", "backoff_base": 30, "backoff_max": 60},
    )
    document = yaml.safe_load(config.read_text())
    document["destinations"].append(failing)
    config.write_text(yaml.safe_dump(document))
    with relay(config, tmp_path) as r:
        # Five users: each user's own order would hold four behind the first.
        post_events(r.url, [track(f"carol-{n}") for n in range(5)])
        wait_for(lambda: states(r.url)["delivered"] == 5, "five deliveries")
        wait_for(lambda: states(r.url)["retrying"] == 5, "five retrying deliveries")
        wait_for(lambda: states(r.url)["delivered"] == 0, "retention to prune delivered work")
        assert deliveries(r.url, destination="kameleoon") == []
        assert len(deliveries(r.url, destination="down")) == 5  # pending work stays
        assert states(r.url)["retrying"] == 5


def test_the_api_key_is_nowhere_at_rest_or_in_answers(tmp_path: Path, boxes: Any) -> None:
    _, box = boxes
    config = configure(tmp_path, box.url, destination(box.url, CANARY_KEY))
    secrets = (CANARY_KEY, CANARY_SECRET)
    with relay(config, tmp_path) as r:
        post_events(r.url, [track("dave") for _ in range(4)])
        wait_for(lambda: states(r.url)["delivered"] == 4, "four deliveries")
        answers = [
            httpx.get(f"{r.url}{path}", headers=ADMIN).text
            for path in ("/api/stats", "/api/deliveries", "/metrics", "/openapi.json")
        ]
        [row, *_] = deliveries(r.url)
        answers.append(httpx.get(f"{r.url}/api/deliveries/{row['id']}", headers=ADMIN).text)
        answers.append(httpx.post(f"{r.url}/api/preview", json=track("dave"), headers=ADMIN).text)
        answers.append(
            httpx.post(
                f"{r.url}/api/replay", json={"state": "all", "dry_run": True}, headers=ADMIN
            ).text
        )
        assert repr(json.loads(answers[-1])["example"]).count("***") >= 1
        logs = r.log()
    files = [p for p in tmp_path.iterdir() if p.name.startswith("relay.db")]
    assert {p.name for p in files} >= {"relay.db"}
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path
        data = path.read_bytes()
        assert not any(secret.encode() in data for secret in secrets), path
    for text in [*answers, logs]:
        assert not any(secret in text for secret in secrets)
    time.sleep(0)  # the relay is stopped: its files are final


def test_ingest_pushes_back_when_the_queue_is_full(tmp_path: Path, boxes: Any) -> None:
    _, box = boxes
    down = {**destination(box.url, CANARY_KEY), "endpoint": "http://127.0.0.1:9/segmentio"}
    config = configure(
        tmp_path,
        box.url,
        down,
        delivery={"max_backlog": 5, "backoff_base": 60, "backoff_max": 60},
    )
    with relay(config, tmp_path) as r:
        post_events(r.url, [track(f"erin-{n}") for n in range(5)])  # five users
        wait_for(lambda: states(r.url)["retrying"] == 5, "five deliveries waiting to retry")

        def refused() -> httpx.Response | None:
            answer = httpx.post(
                f"{r.url}/v1/track", json=track("erin"), auth=(WRITE_KEY, ""), timeout=10
            )
            return answer if answer.status_code == 503 else None

        answer = wait_for(refused, "ingest to push back", timeout=10)
        assert answer.headers["retry-after"] == "10"
        assert "queue is full" in answer.json()["error"]
        # The count is read once a second, so the bound is approximate; once it is
        # passed, nothing more is stored.
        received = stats(r.url)["events"]["received"]
        assert refused() is not None
        assert stats(r.url)["events"]["received"] == received
