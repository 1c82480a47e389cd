"""What the dashboard's browser tests share: a relay serving its own sandbox (both
Kameleoon destinations into it, two sources, an admin token), Chromium, a logged-in
page, and screenshots saved under the test's tmp dir (the path is printed)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from playwright.sync_api import Browser, Page, expect

from tests.e2e.stack import SANDBOX_API_KEY, SANDBOX_SITECODE, wait_for
from tests.helpers.processes import Server, free_port, running

ADMIN_TOKEN = "issue19-admin-t0ken"
WEB_KEY, MOBILE_KEY = "wk_web_19", "wk_mobile_19"
# A subscription whose messageId comes from a property: it fails where that is absent,
# beside the preset that delivers the same event.
STRICT_MAPPING = {
    "event": {"@path": "$.event"},
    "type": {"@path": "$.type"},
    "properties": {"@path": "$.properties"},
    "kameleoonVisitorCode": {"@path": "$.properties.kameleoonVisitorCode"},
    "timestamp": {"@path": "$.timestamp"},
    "messageId": {"@path": "$.properties.mid"},
}


@dataclass
class MountedStack:
    relay: Server
    directory: Path

    @property
    def url(self) -> str:
        return self.relay.url

    @property
    def sandbox_url(self) -> str:
        return f"{self.relay.url}/sandbox"

    def admin(self, path: str, **params: Any) -> Any:
        answer = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    def send(self, body: dict[str, Any], key: str = WEB_KEY) -> str:
        body = {"messageId": f"i19-{uuid.uuid4().hex[:12]}", **body}
        path = body["type"]
        answer = httpx.post(f"{self.url}/v1/{path}", json=body, auth=(key, ""), timeout=10)
        assert answer.status_code == 200, answer.text
        return body["messageId"]

    def deliveries(self, message_id: str) -> list[dict[str, Any]]:
        return self.admin("/api/deliveries", message_id=message_id)["deliveries"]

    def wait_final(self, message_id: str, count: int = 1) -> list[dict[str, Any]]:
        final = ("delivered", "failed", "dead", "filtered")

        def done() -> list[dict[str, Any]] | None:
            rows = self.deliveries(message_id)
            ok = len(rows) == count and all(r["state"] in final for r in rows)
            return rows if ok else None

        return wait_for(done, f"{message_id} delivered, failed, dead or filtered", 30)

    def faults(self, **settings: Any) -> None:
        url = f"{self.sandbox_url}/api/faults"
        if settings:
            httpx.post(url, json=settings, timeout=10).raise_for_status()
        else:
            httpx.delete(url, timeout=10).raise_for_status()


def _config(directory: Path, port: int) -> Path:
    endpoint = f"http://127.0.0.1:{port}/sandbox/segmentio"
    settings = {"apiKey": SANDBOX_API_KEY, "sitecode": SANDBOX_SITECODE}
    document = {
        "sources": [
            {"name": "web", "write_key": WEB_KEY},
            {"name": "mobile", "write_key": MOBILE_KEY},
        ],
        "destinations": [
            {
                "name": "actions",
                "type": "kameleoon-actions",
                "endpoint": endpoint,
                "settings": settings,
                "sources": ["web"],
                "subscriptions": [
                    {"name": "Track Calls", "trigger": 'type = "track"', "action": "logEvent"},
                    {
                        "name": "Identify Calls",
                        "trigger": 'type = "identify"',
                        "action": "identify",
                    },
                    {
                        "name": "Strict Copy",
                        "trigger": 'event = "Two Subscriptions"',
                        "action": "logEvent",
                        "mapping": STRICT_MAPPING,
                    },
                ],
            },
            {
                "name": "classic",
                "type": "kameleoon-classic",
                "endpoint": endpoint,
                "settings": settings,
                "filters": [{"drop": 'event = "Internal Only"'}],
            },
        ],
        "database": f"sqlite:///{directory / 'relay.db'}",
        "admin_token": ADMIN_TOKEN,
        "overlay": "relay.overlay.yaml",
        "delivery": {"backoff_base": 0.05, "backoff_max": 0.2, "retry_window": "1s"},
    }
    path = directory / "relay.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@contextlib.contextmanager
def mounted_stack(directory: Path) -> Iterator[MountedStack]:
    """`serve --config ... --sandbox`: the relay and the sandbox it delivers to, one process."""
    port = free_port()
    config = _config(directory, port)
    args = ["serve", "--config", str(config), "--sandbox", "--state-dir", str(directory / "s")]
    with running(args, directory / "relay.log", port=port, health_path="/health") as server:
        yield MountedStack(server, directory)


def log_in(page: Page) -> None:
    page.goto("/login")
    page.locator("input[name=token]").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def new_page(browser: Browser, base_url: str, width: int = 1280) -> Page:
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    return context.new_page()


def snap(page: Page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    assert SANDBOX_API_KEY not in page.content(), f"the API key is shown on {page.url}"
