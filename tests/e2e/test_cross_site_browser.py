"""Issue 22, defect 3, in Debian's chromium: a page of another local origin tries what
the issue reproduced against a relay with no admin_token (the default) and its mounted
sandbox. Replay, fault injection and a config reload are all refused; a page rebinding
its name to 127.0.0.1 is refused; the dashboard itself keeps working."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.admin.test_admin_surface import open_relay
from tests.e2e.stack import WRITE_KEY, wait_for
from tests.e2e.static_site import static_pages
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.processes import Server

pytestmark = pytest.mark.browser

REBOUND = "rebind.attacker.example"

# What the issue ran: a no-cors replay, a fault injection, and a text/plain form that
# reloads the config, each sent for real (the browser does not stop these).
ATTACK = """<!doctype html><html><body><iframe name="sink"></iframe><script>
const relay = __RELAY__;
async function attack() {
  await fetch(relay + "/api/replay",
              {method: "POST", mode: "no-cors", body: '{"state":"all"}'});
  await fetch(relay + "/sandbox/api/faults",
              {method: "POST", mode: "no-cors", body: '{"error_rate": 1}'});
  const frame = document.querySelector("iframe");
  const loaded = new Promise(resolve => { frame.onload = resolve; });
  const form = document.createElement("form");
  form.method = "POST"; form.enctype = "text/plain"; form.target = "sink";
  form.action = relay + "/api/config/reload";
  const field = document.createElement("input");
  field.name = '{"a": "'; field.value = '"}';
  form.appendChild(field); document.body.appendChild(form); form.submit();
  await loaded;
  document.title = "sent";
}
attack().catch(error => { document.title = "error: " + error; });
</script></body></html>"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with open_relay(tmp_path_factory.mktemp("cross-site")) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install -y chromium"
    # The rebinding: the attacker's name resolves to this machine.
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"]
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


def delivered_row(server: Server) -> dict:
    message_id = "cross-site-delivered"
    event = {"userId": "cs-user", "event": "Cross Site", "messageId": message_id}
    sent = httpx.post(f"{server.url}/v1/track", json=event, auth=(WRITE_KEY, ""), timeout=10)
    assert sent.status_code == 200, sent.text

    def row() -> dict | None:
        rows = httpx.get(
            f"{server.url}/api/deliveries", params={"message_id": message_id}, timeout=10
        ).json()["deliveries"]
        return rows[0] if rows and rows[0]["state"] == "delivered" else None

    found = wait_for(row, "the delivery to be delivered")
    return httpx.get(f"{server.url}/api/deliveries/{found['id']}", timeout=10).json()


def test_another_origin_cannot_replay_inject_faults_or_reload(
    browser: Browser, served: Server
) -> None:
    before = delivered_row(served)
    faults = httpx.get(f"{served.url}/sandbox/api/faults", timeout=10).json()
    page_html = ATTACK.replace("__RELAY__", orjson.dumps(served.url).decode())
    with static_pages({"/": page_html}) as site:
        assert site != served.url  # another port: another origin
        context = browser.new_context()
        page = context.new_page()
        page.goto(site + "/")
        expect(page).to_have_title("sent", timeout=15_000)
        context.close()
    after = httpx.get(f"{served.url}/api/deliveries/{before['id']}", timeout=10).json()
    assert after == before  # not requeued: the replay was refused
    assert httpx.get(f"{served.url}/sandbox/api/faults", timeout=10).json() == faults
    assert faults["error_rate"] == 0
    log = served.log()
    assert "configuration reloaded" not in log
    assert "configuration not reloaded" not in log  # refused before the file was read


def test_a_rebound_name_gets_no_dashboard_and_no_session(browser: Browser, served: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    for path in ("/tester", "/api/deliveries", "/sandbox/"):
        answer = page.goto(f"http://{REBOUND}:{served.port}{path}")
        assert answer is not None and answer.status == 403, path
        assert "allowed_hosts" in page.content()
    assert not [c for c in context.cookies() if c["name"] == "kr_session"]
    context.close()


def test_the_dashboard_still_works_from_its_own_origin(browser: Browser, served: Server) -> None:
    context = browser.new_context(base_url=served.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/mappings")  # loopback without a token: a session without logging in
    page.get_by_role("button", name="Test authentication").click()
    expect(page.locator(".auth-result")).to_have_text("credentials accepted (HTTP 200)")
    page.goto("/tester")
    page.locator("#event").fill(
        '{"type": "track", "event": "From The Tester", "userId": "tester-user"}'
    )
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#tester-result")).to_contain_text("logEvent")
    context.close()
