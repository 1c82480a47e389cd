"""The engine commands, run as a user runs them: a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CONFIG = """
sources:
  - {name: web, write_key: wk}
destinations:
  - name: kameleoon
    type: kameleoon-actions
    endpoint: http://127.0.0.1:9/segmentio
    settings: {apiKey: ${TEST_API_KEY}, sitecode: 1q2w3e4r5t}
"""
API_KEY = "eyJpZCI6InMzY3IzdCJ9"  # base64 of {"id":"s3cr3t"}, as Kameleoon keys are
TRACK = {
    "type": "track",
    "event": "Signed Up",
    "userId": "u1",
    "messageId": "m1",
    "timestamp": "2024-05-01T12:00:00.000Z",
    "properties": {"plan": "pro", "kameleoonVisitorCode": "vc1"},
}


def run(*args: str, stdin: str = "", env_key: str = API_KEY) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "TEST_API_KEY": env_key},
        timeout=60,
        check=False,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(CONFIG)
    return path


def test_preview_shows_the_request_with_the_key_masked(config: Path) -> None:
    events = "\n".join(
        json.dumps(e) for e in [TRACK, {**TRACK, "type": "alias", "previousId": "p"}]
    )
    result = run("preview", "--config", str(config), "-", stdin=events)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    (delivery,) = lines[0]["deliveries"]
    assert delivery["subscription"] == "Track Calls" and delivery["action"] == "logEvent"
    request = delivery["request"]
    assert request["method"] == "POST" and request["url"] == "http://127.0.0.1:9/segmentio"
    assert request["headers"]["authorization"] == "Basic ***"
    assert request["json"]["properties"] == {"plan": "pro", "kameleoonVisitorCode": "vc1"}
    assert API_KEY not in result.stdout
    assert lines[1]["deliveries"] == []  # no preset subscribes to alias


def test_preview_reveals_secrets_only_when_asked(config: Path) -> None:
    result = run("preview", "--config", str(config), "--reveal-secrets", stdin=json.dumps(TRACK))
    assert json.loads(result.stdout)["deliveries"][0]["request"]["headers"]["authorization"] == (
        f"Basic {API_KEY}"
    )


def test_preview_reports_validation_errors_without_a_request(config: Path) -> None:
    event = {**TRACK, "timestamp": "2024-05-01"}  # ISO 8601, but not a date-time
    result = run("preview", "--config", str(config), stdin=json.dumps([event]))
    (delivery,) = json.loads(result.stdout)["deliveries"]
    assert "request" not in delivery
    assert delivery["error"] == {
        "type": "PayloadValidationError",
        "message": "Timestamp must be a valid date and time string but it was not.",
    }


def test_fql_command(tmp_path: Path) -> None:
    events = "\n".join(json.dumps(e) for e in [TRACK, {**TRACK, "event": "Other"}])
    result = run("fql", 'event = "Signed Up" and properties.plan = "pro"', "-", stdin=events)
    assert result.stdout.split() == ["true", "false"]
    bad = run("fql", '(type = "track"', "-", stdin="")
    assert bad.returncode == 2 and "position" in bad.stderr and "Traceback" not in bad.stderr


def test_map_command(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps({"who": {"@path": "$.userId"}, "label": {"@template": "{{event}}!"}})
    )
    result = run("map", str(mapping), stdin=json.dumps(TRACK))
    assert json.loads(result.stdout) == {"who": "u1", "label": "Signed Up!"}
    mapping.write_text(json.dumps({"a": {"@nope": 1}, "b": {"@path": 5}}))
    bad = run("map", str(mapping), stdin="")
    assert bad.returncode == 2
    assert len([line for line in bad.stderr.splitlines() if line.startswith("error:")]) >= 2


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["preview", "--config", "/nonexistent.yaml"], "", "cannot read"),
        (["fql", 'type = "track"', "/nonexistent.jsonl"], "", "cannot read"),
        (["fql", 'type = "track"', "-"], '{"type":"track"}\n{oops\n', "<stdin>:2: invalid JSON"),
        (["check-config", "/nonexistent.yaml"], "", "cannot read"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], stdin: str, message: str) -> None:
    result = run(*args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_check_config_summarises(config: Path) -> None:
    key = "eyJpZCI6InMzY3IzdCJ9"  # base64 of {"id":"s3cr3t"}: check-config checks the format
    result = run("check-config", str(config), env_key=key)
    assert result.returncode == 0, result.stderr
    assert "destinations (1):" in result.stdout
    assert '* Identify Calls: type = "identify" -> identify (default mapping)' in result.stdout
    assert key not in result.stdout + result.stderr


def test_every_command_has_help() -> None:
    for command in ["preview", "fql", "map", "check-config", "check-auth"]:
        result = run(command, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout, command


MIGRATION = """
sources:
  - {name: web, write_key: wk}
destinations:
  - name: classic
    type: kameleoon-classic
    endpoint: http://127.0.0.1:9/segmentio
    settings: {apiKey: eyJpZCI6InMzY3IzdCJ9, sitecode: 1q2w3e4r5t}
    filters:
      - drop: 'event = "Debug"'
  - name: actions
    type: kameleoon-actions
    endpoint: http://127.0.0.1:9/segmentio
    settings: {apiKey: eyJpZCI6InMzY3IzdCJ9, sitecode: 1q2w3e4r5t}
    filters:
      - drop_properties: {fields: [properties.email]}
"""


def test_preview_shows_classic_and_actions_bodies_and_filter_effects(tmp_path: Path) -> None:
    config = tmp_path / "migration.yaml"
    config.write_text(MIGRATION)
    events = [
        {**TRACK, "properties": {"k_visitorCode": "vc9", "email": "a@b.c"}},
        {**TRACK, "event": "Debug", "messageId": "m2"},
    ]
    result = run("preview", "--config", str(config), stdin=json.dumps(events))
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    classic, actions = first["deliveries"]
    assert classic["destination"] == "classic" and classic["action"] == "track"
    assert classic["request"]["json"]["properties"] == {
        "k_visitorCode": "vc9",
        "email": "a@b.c",
        "kameleoonVisitorCode": "vc9",
    }
    assert actions["request"]["json"]["properties"] == {"k_visitorCode": "vc9"}
    assert actions["removed_fields"] == {"drop_properties[0]": ["properties.email"]}
    dropped = second["deliveries"][0]
    assert dropped == {
        "destination": "classic",
        "filtered": {"filter": "drop[0]", "reason": 'matched event = "Debug"'},
    }


def test_map_prints_undefined_as_null_and_lone_surrogates_escaped(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps({"half": {"@path": "$.properties.s[1]"}, "n": {"@path": "$.properties.n"}})
    )
    event = json.dumps({"type": "track", "properties": {"s": "😀", "n": 10.0}})
    assert run("map", str(mapping), stdin=event).stdout == '{"half":"\\ude00","n":10}\n'
    mapping.write_text(json.dumps({"@path": "$.nope"}))
    assert run("map", str(mapping), stdin=event).stdout == "null\n"
