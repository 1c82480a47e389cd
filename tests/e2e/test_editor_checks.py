"""Issue 19, missing 2, over HTTP and in serve's log: the mapping editor's compile check
refuses a mapping without a required field (naming it) and gives the warnings; serve's
start-up log shows the config's warnings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.dashboard_stack import SANDBOX_API_KEY, DashStack, dash_stack
from tests.e2e.test_dashboard_ops import csrf_of, login

LOOSE_TRIGGER = 'type = "track" and'


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashStack]:
    directory: Path = tmp_path_factory.mktemp("editor")
    with dash_stack(
        directory,
        destinations=[
            {
                "name": "kameleoon",
                "type": "kameleoon-actions",
                "endpoint": "http://127.0.0.1:9/segmentio",
                "settings": {"apiKey": SANDBOX_API_KEY, "sitecode": "demosite01"},
                "subscriptions": [
                    {"name": "Loose", "trigger": LOOSE_TRIGGER, "action": "logEvent"},
                ],
            }
        ],
    ) as s:
        yield s


def check(stack: DashStack, subscription: dict) -> dict:
    client = login(stack)
    answer = client.post(
        "/dashboard/api/check",
        json={"destination": "kameleoon", "subscription": subscription},
        headers={"x-csrf-token": csrf_of(client)},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_serve_logs_the_configs_warnings_at_start(stack: DashStack) -> None:
    log = stack.relay.log()
    assert "warning: destinations[0].subscriptions[0].trigger: the trigger ends with `and`" in log


def test_the_editor_refuses_a_mapping_without_a_required_field(stack: DashStack) -> None:
    mapping = {"type": {"@path": "$.type"}, "timestamp": {"@path": "$.timestamp"}}
    answer = check(
        stack,
        {"name": "Orders", "trigger": 'type = "track"', "action": "logEvent", "mapping": mapping},
    )
    assert answer["ok"] is False
    (problem,) = answer["problems"]
    assert problem.startswith("mapping.messageId: required field 'messageId'")


def test_the_editor_gives_warnings_for_what_compiles(stack: DashStack) -> None:
    mapping = {
        "type": {"@path": "$.type"},
        "event": {"@liquid": "{{ event "},
        "timestamp": {"@path": "$.timestamp"},
        "messageId": {"@path": "$.messageId"},
    }
    answer = check(
        stack,
        {"name": "Orders", "trigger": 'event == "Order"', "action": "logEvent", "mapping": mapping},
    )
    assert answer["ok"] is True and answer["problems"] == []
    assert [w.split(":")[0] for w in answer["warnings"]] == ["trigger", "mapping.event.@liquid"]


def test_a_save_keeps_the_fingerprint_of_the_configs_subscriptions(stack: DashStack) -> None:
    """Defect 7: so that a later change of the config's subscriptions can be noticed."""
    client = login(stack)
    edit = {"name": "Saved", "trigger": 'type = "track"', "action": "logEvent", "mapping": None}
    answer = client.post(
        "/dashboard/api/save",
        json={"destination": "kameleoon", "index": 0, "subscription": edit},
        headers={"x-csrf-token": csrf_of(client)},
    )
    assert answer.status_code == 200, answer.text
    saved = yaml.safe_load(stack.overlay.read_text())["destinations"]["kameleoon"]
    assert [s["name"] for s in saved["subscriptions"]] == ["Saved"]
    assert len(saved["config_subscriptions"]) == 16
