"""`serve --sandbox`, the warning without it, preview's visitor warnings, and the README's
configuration example and migration walkthrough followed as written, against real processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.stack import SANDBOX_API_KEY, SANDBOX_SITECODE, wait_for
from tests.helpers.processes import CLI, REPO, free_port, running

README = (REPO / "README.md").read_text()
README_TOKEN = "readme-admin-t0ken-0123"  # admin_token wants 16 characters or more
CLEAN_ENV = {"KAMELEOON_API_KEY": "", "KAMELEOON_SITECODE": "", "KAMELEOON_RELAY_ADMIN_TOKEN": ""}
VISITOR = "oa16i4syt2ve3b0z"


def readme_block(section: str, language: str, index: int = 0) -> str:
    """The `index`-th ```language block of a README section (`## ...` heading), dedented."""
    start = README.index(f"\n## {section}")
    end = README.find("\n## ", start + 1)
    text = README[start : end if end != -1 else None]
    blocks = re.findall(rf"^( *)```{language}\n(.*?)^\1```", text, re.S | re.M)
    return textwrap.dedent(blocks[index][1])


def relay_config(tmp_path: Path, port: int, **destination: Any) -> Path:
    document = {
        "sources": [{"name": "web", "write_key": "wk"}],
        "destinations": [
            {
                "name": "kameleoon",
                "type": "kameleoon-actions",
                "endpoint": f"http://127.0.0.1:{port}/sandbox/segmentio",
                "settings": {"apiKey": SANDBOX_API_KEY, "sitecode": SANDBOX_SITECODE},
                **destination,
            }
        ],
        "database": f"sqlite:///{tmp_path / 'relay.db'}",
        "delivery": {"backoff_base": 0.05, "backoff_max": 0.5},
    }
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def track(url: str, write_key: str, event: dict[str, Any]) -> None:
    response = httpx.post(f"{url}/v1/track", json=event, auth=(write_key, ""))
    assert response.status_code == 200, response.text


def visitor_goals(sandbox_url: str, code: str, token: str | None = None) -> dict[str, int] | None:
    # With admin_token set, the mounted sandbox's API wants it too.
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{sandbox_url}/api/visitors/{code}", headers=headers)
    return response.json()["goals"] if response.status_code == 200 else None


def test_serve_sandbox_mounts_it_beside_a_config_with_the_demo_credentials(
    tmp_path: Path,
) -> None:
    port = free_port()
    config = relay_config(tmp_path, port)
    args = ["serve", "--config", str(config), "--sandbox", "--state-dir", str(tmp_path / "s")]
    with running(args, tmp_path / "serve.log", port=port, env=CLEAN_ENV) as server:
        log = server.log()
        assert (
            f"  sandbox credentials (demo): apiKey {SANDBOX_API_KEY}  sitecode {SANDBOX_SITECODE}"
            in log.splitlines()
        )
        assert "warning:" not in log
        track(server.url, "wk", {"userId": "u1", "event": "Signed Up",
                                 "properties": {"kameleoonVisitorCode": VISITOR}})  # fmt: skip
        goals = wait_for(lambda: visitor_goals(f"{server.url}/sandbox", VISITOR), "the goal")
        assert goals == {"Signed Up": 1}


def test_serve_warns_when_it_posts_to_its_own_unmounted_sandbox(tmp_path: Path) -> None:
    port = free_port()
    config = relay_config(tmp_path, port)
    with running(["serve", "--config", str(config)], tmp_path / "serve.log", port=port) as server:
        log = server.log().splitlines()
        warning = (
            f"warning: destinations[0].endpoint: http://127.0.0.1:{port}/sandbox/segmentio is "
            "this relay's sandbox, but the sandbox is not mounted, so every delivery would fail "
            "(404); add --sandbox to mount it"
        )
        assert warning in log
        assert log.index(warning) < next(  # before the banner, where it is seen
            i for i, line in enumerate(log) if line.startswith("kameleoon-relay listening")
        )
        assert not any("sandbox credentials" in line for line in log)
        assert httpx.get(f"{server.url}/sandbox/").status_code == 404


def test_serve_does_not_warn_about_another_relays_sandbox(tmp_path: Path) -> None:
    port = free_port()
    config = relay_config(tmp_path, port + 1 if port < 65535 else port - 1)
    with running(["serve", "--config", str(config)], tmp_path / "serve.log", port=port) as server:
        assert "warning:" not in server.log()


# -- preview's warnings ----------------------------------------------------------------------


def preview(config: Path, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    result = subprocess.run(
        [*CLI, "preview", "--config", str(config)],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env={**os.environ, **CLEAN_ENV},
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout), result.stderr


ORDER = {
    "type": "track",
    "event": "Order Completed",
    "userId": "user-1",
    "messageId": "m-1",
    "properties": {"currency": "EUR", "kameleoonVisitorCode": VISITOR},
}


@pytest.mark.parametrize(
    ("mapping", "warning"),
    [
        (  # the README's old "Orders only" mapping: the sandbox refuses it ("no visitor")
            {"type": {"@path": "$.type"}, "event": {"@path": "$.event"},
             "timestamp": {"@path": "$.timestamp"}, "messageId": {"@path": "$.messageId"}},
            "no properties.kameleoonVisitorCode, userId or anonymousId: no visitor to credit",
        ),
        (  # a userId only: the sandbox falls back to it, Kameleoon needs the code
            {"type": {"@path": "$.type"}, "event": {"@path": "$.event"},
             "userId": {"@path": "$.userId"},
             "timestamp": {"@path": "$.timestamp"}, "messageId": {"@path": "$.messageId"}},
            "no properties.kameleoonVisitorCode: Kameleoon needs it to match the visitor",
        ),
        (
            {"type": {"@path": "$.type"}, "event": {"@path": "$.event"},
             "kameleoonVisitorCode": {"@path": "$.properties.kameleoonVisitorCode"},
             "timestamp": {"@path": "$.timestamp"}, "messageId": {"@path": "$.messageId"}},
            None,
        ),
    ],
)  # fmt: skip
def test_preview_warns_when_a_request_names_no_visitor(
    tmp_path: Path, mapping: dict[str, Any], warning: str | None
) -> None:
    subscription = {"name": "Orders", "trigger": 'type = "track"', "action": "logEvent",
                    "mapping": mapping}  # fmt: skip
    config = relay_config(tmp_path, 9, subscriptions=[subscription])
    line, stderr = preview(config, ORDER)
    (delivery,) = line["deliveries"]
    assert "request" in delivery  # still shown: the warning does not hide it
    if warning is None:
        assert "warnings" not in delivery and "warning" not in stderr
        return
    (shown,) = delivery["warnings"]
    assert shown.startswith(warning)
    assert stderr.splitlines() == [f"warning: m-1: kameleoon / Orders: {shown}"]


# -- the README, followed ----------------------------------------------------------------------


def test_readme_configuration_example_checks_and_delivers(tmp_path: Path) -> None:
    example = readme_block("Configuration", "yaml")
    env = {"WEB_WRITE_KEY": "wk", "KAMELEOON_API_KEY": "eyJpZCI6InJlYWwifQ==",
           "KAMELEOON_RELAY_ADMIN_TOKEN": README_TOKEN}  # fmt: skip
    readme_config = tmp_path / "relay.yaml"
    readme_config.write_text(example)
    # As written (aimed at Kameleoon): valid, and an order names its visitor.
    checked = subprocess.run(
        [*CLI, "check-config", str(readme_config)], capture_output=True, text=True,
        env={**os.environ, **CLEAN_ENV, **env}, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    # Then aimed at the sandbox (the one change "Sandbox credentials" describes): it delivers.
    port = free_port()
    document = yaml.safe_load(example.replace("${KAMELEOON_API_KEY}", SANDBOX_API_KEY))
    (destination,) = document["destinations"]
    destination["endpoint"] = f"http://127.0.0.1:{port}/sandbox/segmentio"
    destination["settings"]["sitecode"] = SANDBOX_SITECODE
    document["database"] = f"sqlite:///{tmp_path / 'relay.db'}"
    local = tmp_path / "local.yaml"
    local.write_text(yaml.safe_dump(document))
    args = ["serve", "--config", str(local), "--sandbox"]
    with running(args, tmp_path / "serve.log", port=port, env={**CLEAN_ENV, **env},
                 cwd=tmp_path) as server:  # fmt: skip
        track(server.url, "wk", {**ORDER, "messageId": "order-1"})
        track(server.url, "wk", {**ORDER, "event": "Signed Up", "messageId": "signup-1"})
        goals = wait_for(
            lambda: (
                (g := visitor_goals(f"{server.url}/sandbox", VISITOR, README_TOKEN))
                and len(g) == 2
                and g
            ),
            "both goals",
        )
        assert goals == {"SegmentIO track - Order EUR": 1, "Signed Up": 1}
        # Loopback needs no token, as the README says (issue 19, defect 1); the network
        # does (tests/server/test_network_guard.py).
        assert visitor_goals(f"{server.url}/sandbox", VISITOR) == goals
        stats = httpx.get(
            f"{server.url}/sandbox/api/stats", headers={"authorization": f"Bearer {README_TOKEN}"}
        ).json()
        assert stats["rejected"] == 0 and stats["duplicates"] == 0


def test_readme_migration_walkthrough(tmp_path: Path) -> None:
    config_text = readme_block("Migrating from the classic destination", "yaml")
    commands = readme_block("Migrating from the classic destination", "sh")
    relay_port, sandbox_port = free_port(), free_port()
    config_text = config_text.replace(":8091/", f":{sandbox_port}/").replace(
        ":8080/", f":{relay_port}/"
    )
    config = tmp_path / "migration.yaml"
    config.write_text(config_text + f"database: sqlite:///{tmp_path / 'relay.db'}\n")
    (curl,) = [line for line in commands.replace("\\\n", "").splitlines() if "curl" in line]
    assert "kameleoon-relay sandbox --port 8091" in commands
    assert "kameleoon-relay serve --config migration.yaml --sandbox" in commands
    env = {**CLEAN_ENV, "WEB_WRITE_KEY": "my-web-write-key"}
    with (
        running(["sandbox"], tmp_path / "sandbox.log", port=sandbox_port) as standalone,
        running(["serve", "--config", str(config), "--sandbox"], tmp_path / "serve.log",
                port=relay_port, env=env, cwd=tmp_path) as server,
    ):  # fmt: skip
        assert "warning:" not in server.log()
        subprocess.run(
            ["bash", "-c", curl.replace(":8080/", f":{relay_port}/")],
            env={**os.environ, **env}, check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        classic = wait_for(lambda: visitor_goals(standalone.url, VISITOR), "classic's goal")
        actions = wait_for(lambda: visitor_goals(f"{server.url}/sandbox", VISITOR), "actions' goal")
        assert classic == actions == {"Order Completed": 1}
