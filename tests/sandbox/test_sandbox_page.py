"""The web page in headless Chromium: goals and a visitor appear after events are posted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS
from tests.sandbox.support import mounted_sandbox, post_event, sandbox_client, track, unique

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Fail, never skip: CI installs Debian's chromium (scripts/test).
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=["standalone", "mounted"])
def page_url(request, tmp_path) -> Iterator[str]:
    """The page's URL, served alone or mounted at /sandbox in a parent app."""
    if request.param == "standalone":
        with sandbox_client(["sandbox"], tmp_path / "sandbox.log") as (server, _http):
            yield server.url + "/"
    else:
        with mounted_sandbox(tmp_path / "mounted.log") as url:
            yield url + "/sandbox/"


def test_goals_and_visitor_appear_after_events(browser: Browser, page_url: str) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(page_url)
    goals = page.locator("#goals tbody")
    expect(goals).to_contain_text("Order Completed")  # configured goals show before any event
    expect(page.locator("#visitors tbody tr")).to_have_count(0)

    code, event = unique("browser-vc"), unique("Played Video")
    props = {"kameleoonVisitorCode": code}
    order = track("Order Completed", properties={**props, "revenue": 42})
    with httpx.Client(base_url=page_url.rstrip("/")) as http:
        for body in (
            order,
            track(event, properties=props),
            {"type": "page", "name": "Pricing", "properties": props, "messageId": unique("m")},
            {"type": "identify", "properties": {**props, "plan": "pro", "vip_buyers": True}},
        ):
            assert post_event(http, body).status_code == 200

    order_row = goals.locator("tr", has_text="Order Completed")
    expect(order_row.locator("td").nth(3)).to_have_text("1")
    expect(goals.locator("tr", has_text=f"SegmentIO track - {event}")).to_contain_text("custom")
    visitor_row = page.locator("#visitors tbody tr", has_text=code)
    expect(visitor_row).to_contain_text("Order Completed (1)")
    expect(visitor_row).to_contain_text("page Pricing (1)")
    expect(visitor_row).to_contain_text('plan="pro"')
    expect(visitor_row).to_contain_text("vip_buyers")
    expect(page.locator("#events tbody")).to_contain_text(order["messageId"])
    expect(page.locator("#stats")).to_contain_text("accepted 4")
    assert errors == []
    page.close()
