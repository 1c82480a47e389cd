"""The Data API destination through the whole relay: check-auth, the dashboard's test
authentication and tester, delivery, and the client secret nowhere at rest or on show."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.stack import WRITE_KEY, relay, sandbox, wait_for, write_config
from tests.helpers.processes import Server

ADMIN_TOKEN = "data-api-admin-t0ken"
SECRET = "S3cret-of-the-client-Zq9x"
WRONG = "Wr0ng-secret-of-the-client-Kp4"
SITECODE = "dataapi001"


@dataclass
class DataStack:
    relay: Server
    sandbox: Server
    config: Path
    directory: Path


def _destination(name: str, url: str, secret: str) -> dict:
    return {
        "name": name,
        "type": "kameleoon-data-api",
        "endpoint": url,
        "token_url": f"{url}/oauth/token",
        "settings": {"clientId": "relay-client", "clientSecret": secret, "sitecode": SITECODE},
        "goals": {"Order Completed": 424242},
        "custom_data": {"plan": 3},
        "batch": {"max_events": 100, "max_wait": "50ms"},
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DataStack]:
    directory = tmp_path_factory.mktemp("data-api")
    accounts = {
        "accounts": [
            {
                "api_key": {"id": "demo", "secret": "demo"},
                "client": {"id": "relay-client", "secret": SECRET},
                "sitecodes": [
                    {
                        "sitecode": SITECODE,
                        "goals": ["Order Completed"],
                        "goal_ids": {424242: "Order Completed"},
                    }
                ],
            }
        ]
    }
    (directory / "sandbox.yaml").write_text(yaml.safe_dump(accounts))
    with sandbox(directory, "--config", str(directory / "sandbox.yaml")) as box:
        config = write_config(
            directory,
            box.url,
            admin_token=ADMIN_TOKEN,
            destinations=[
                _destination("direct", box.url, SECRET),
                _destination("wrongcred", box.url, WRONG),
            ],
        )
        with relay(config, directory) as server:
            yield DataStack(server, box, config, directory)


def _cli(stack: DataStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _login(stack: DataStack) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=stack.relay.url, timeout=20, headers={"origin": stack.relay.url})
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    answer = client.post("/login", data={"csrf_token": token, "token": ADMIN_TOKEN, "next": "/"})
    assert answer.status_code == 303
    page = client.get("/", headers={"accept": "text/html"}).text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return client, csrf


def test_check_auth_gets_a_token_or_says_why(stack: DataStack) -> None:
    good = _cli(stack, "check-auth", "--config", str(stack.config), "--destination", "direct")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "direct: credentials accepted" in good.stdout
    bad = _cli(stack, "check-auth", "--config", str(stack.config), "--destination", "wrongcred")
    assert bad.returncode == 1
    assert "invalid credentials (401)" in bad.stdout and "clientSecret" in bad.stdout
    assert SECRET not in good.stdout + good.stderr and WRONG not in bad.stdout + bad.stderr


def test_the_dashboard_tests_authentication_and_sends_the_lines(stack: DataStack) -> None:
    client, csrf = _login(stack)
    try:
        headers = {"x-csrf-token": csrf}
        ok = client.post(
            "/dashboard/api/test-auth", json={"destination": "direct"}, headers=headers
        )
        assert ok.json()["ok"] is True
        bad = client.post(
            "/dashboard/api/test-auth", json={"destination": "wrongcred"}, headers=headers
        ).json()
        assert bad["ok"] is False and "clientSecret" in bad["message"]
        event = {
            "type": "track",
            "event": "Order Completed",
            "userId": "t1",
            "properties": {"kameleoonVisitorCode": "tester-vc", "revenue": 3},
        }
        result = client.post(
            "/dashboard/api/tester", json={"event": event, "send": True}, headers=headers
        ).json()
        shown = {d["name"]: d["deliveries"] for d in result["destinations"]}
        [conversion] = [d for d in shown["direct"] if d["action"] == "trackConversion"]
        assert "&goalId=424242&revenue=3.0&" in conversion["request"]["lines"][0]
        assert conversion["response"]["status"] == 204
        [refused] = [d for d in shown["wrongcred"] if d["action"] == "trackConversion"]
        assert "OAuth token refused" in refused["response"]["error"]
        answers = [client.get(path) for path in ("/mappings", "/tester", "/")]
        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert "trackConversion" in answers[0].text
        pages = "".join(answer.text for answer in answers)
        assert SECRET not in pages + str(result) and WRONG not in pages + str(result)
    finally:
        client.close()


def test_delivered_events_and_no_secret_at_rest(stack: DataStack) -> None:
    auth = (WRITE_KEY, "")
    answer = httpx.post(
        f"{stack.relay.url}/v1/track",
        auth=auth,
        json={
            "event": "Order Completed",
            "userId": "u-rest",
            "properties": {"kameleoonVisitorCode": "rest-vc", "revenue": 42, "plan": "pro"},
        },
    )
    assert answer.status_code == 200
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}

    def settled() -> list | None:
        rows = httpx.get(
            f"{stack.relay.url}/api/deliveries", params={"user_id": "u-rest"}, headers=admin
        ).json()["deliveries"]
        states = {row["destination"]: row["state"] for row in rows}
        return rows if states == {"direct": "delivered", "wrongcred": "failed"} else None

    rows = wait_for(settled, "the deliveries to settle")
    visitor = httpx.get(f"{stack.sandbox.url}/api/visitors/rest-vc").json()
    assert visitor["conversions"][0]["revenue"] == 42.0
    assert visitor["custom_data"] == {"3": ["pro"]}
    details = [
        httpx.get(f"{stack.relay.url}/api/deliveries/{row['id']}", headers=admin).text
        for row in rows
    ]
    assert any("OAuth token refused" in detail for detail in details)
    shown = "".join(details)
    shown += httpx.get(f"{stack.relay.url}/metrics", headers=admin).text
    shown += httpx.get(f"{stack.relay.url}/api/stats", headers=admin).text
    at_rest = b"".join(path.read_bytes() for path in stack.directory.glob("relay.db*"))
    logs = (stack.directory / "relay.log").read_text()
    for secret in (SECRET, WRONG):
        assert secret not in shown and secret not in logs
        assert secret.encode() not in at_rest


def test_send_event_fetches_a_token_for_the_data_api(stack: DataStack) -> None:
    from kameleoon_relay import Pipeline, load_config, normalize_event, send_event

    pipeline = Pipeline(load_config(stack.config))
    event = normalize_event(
        {
            "type": "page",
            "userId": "p1",
            "name": "Home",
            "properties": {"url": "https://shop.test/", "kameleoonVisitorCode": "send-vc"},
        }
    )
    results = {entry["destination"]: entry for entry in send_event(pipeline, event)}
    assert results["direct"]["status"] == 204
    assert "OAuth token refused" in results["wrongcred"]["error"]["message"]
    visitor = httpx.get(f"{stack.sandbox.url}/api/visitors/send-vc").json()
    assert [view["name"] for view in visitor["views"]] == ["Home"]


@pytest.mark.browser
def test_the_tester_page_shows_the_lines_and_sends_them(stack: DataStack) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS

    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install -y chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=stack.relay.url)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto("/login?next=/tester")
        page.locator("input[name=token]").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Log in").click()
        page.locator("textarea#event").fill(
            '{"type": "page", "userId": "b1", "name": "Pricing", "properties":'
            ' {"url": "https://shop.test/pricing", "kameleoonVisitorCode": "browser-vc"}}'
        )
        page.get_by_role("button", name="Test", exact=True).click()
        result = page.locator("#tester-result")
        lines = result.locator("pre.lines").first
        expect(lines).to_contain_text("&eventType=page&href=https%3A%2F%2Fshop.test%2Fpricing")
        expect(lines).to_contain_text("&title=Pricing&visitorCode=browser-vc")
        page.get_by_role("button", name="Test and send").click()
        expect(result.locator("pre.response").first).to_contain_text("HTTP 204")
        assert SECRET not in page.content()
        context.close()
        browser.close()
    visitor = httpx.get(f"{stack.sandbox.url}/api/visitors/browser-vc").json()
    assert [view["name"] for view in visitor["views"]] == ["Pricing"]
