"""`check-config` and `preview` for a kameleoon-data-api destination, run as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SECRET = "s3cr3t-client-secret-value"
GOOD = """
sources:
  - {name: web, write_key: wk}
destinations:
  - name: kameleoon-direct
    type: kameleoon-data-api
    endpoint: https://data.kameleoon.io
    token_url: https://api.kameleoon.com/oauth/token
    settings: {clientId: my-client, clientSecret: ${CLIENT_SECRET}, sitecode: 1q2w3e4r5t}
    goals: {"Order Completed": 424242}
    custom_data: {plan: 3, company: 7}
    batch: {max_events: 500, max_bytes: 2000000, max_wait: 1s}
"""


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "CLIENT_SECRET": SECRET},
        timeout=60,
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(text)
    return path


def test_the_issues_example_is_valid_and_the_secret_is_not_shown(tmp_path: Path) -> None:
    result = run("check-config", str(_write(tmp_path, GOOD)))
    assert result.returncode == 0, result.stderr
    assert "kameleoon-direct" in result.stdout
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("replace", "by", "path", "words"),
    [
        ('{"Order Completed": 424242}', '{"Order Completed": 0}', "goals.Order Completed",
         "positive integer"),
        ('{"Order Completed": 424242}', '{"Order Completed": "x"}', "goals.Order Completed",
         "positive integer"),
        ("{plan: 3, company: 7}", "{plan: 3.5, company: 7}", "custom_data.plan", "integer"),
        ("clientId: my-client, ", "", "settings.clientId", "required"),
        ("clientSecret: ${CLIENT_SECRET}, ", "", "settings.clientSecret", "required"),
        (", sitecode: 1q2w3e4r5t", "", "settings.sitecode", "required"),
        ("endpoint: https://data.kameleoon.io", "endpoint: ftp://data.kameleoon.io",
         "endpoint", "http"),
        ("max_events: 500", "max_events: -1", "batch.max_events", "positive integer"),
    ],
)  # fmt: skip
def test_each_problem_is_one_line_naming_the_key(
    tmp_path: Path, replace: str, by: str, path: str, words: str
) -> None:
    assert replace in GOOD
    config = _write(tmp_path, GOOD.replace(replace, by))
    for command in (["check-config", str(config)], ["serve", "--config", str(config)]):
        result = run(*command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if f"destinations[0].{path}" in line]
        assert len(lines) == 1, result.stderr
        assert words in lines[0]
        assert "Traceback" not in result.stderr and SECRET not in result.stderr


def test_preview_shows_the_lines_and_no_secret(tmp_path: Path) -> None:
    events = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "messageId": "m1",
            "properties": {"kameleoonVisitorCode": "vc 1", "revenue": 10, "plan": "pro"},
        },
        {"type": "track", "event": "Not A Goal", "userId": "u1", "messageId": "m2",
         "properties": {"kameleoonVisitorCode": "vc1"}},
    ]  # fmt: skip
    stdin = "\n".join(json.dumps(event) for event in events)
    result = run("preview", "--config", str(_write(tmp_path, GOOD)), "-", stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    by_action = {d["action"]: d for d in first["deliveries"]}
    request = by_action["trackConversion"]["request"]
    assert request["url"] == "https://data.kameleoon.io/visit/events?siteCode=1q2w3e4r5t"
    (line,) = request["lines"]
    assert line.endswith("&eventType=conversion&goalId=424242&revenue=10.0&negative=false"
                         "&visitorCode=vc%201")  # fmt: skip
    assert by_action["setCustomData"]["request"]["lines"][0].split("&")[1:4] == [
        "eventType=customData",
        "index=3",
        "valuesCountMap=%7B%22pro%22%3A1%7D",
    ]
    filtered = {d["action"]: d["filtered"] for d in second["deliveries"]}
    assert filtered["trackConversion"] == {
        "filter": "goals",
        "reason": "no goal id for event 'Not A Goal' in `goals`",
    }
