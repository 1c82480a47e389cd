"""The dashboard in Debian's chromium, against real relay and sandbox processes:
log in, watch the overview move, find a delivery, replay a dead letter, run the event
tester, edit a mapping (a bad trigger refused, a good one saved and used).

Each page is saved as a screenshot under the test's tmp dir (the path is printed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.dashboard_stack import ADMIN_TOKEN, SANDBOX_API_KEY, DashStack, dash_stack
from tests.e2e.stack import goals, wait_for
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashStack]:
    with dash_stack(tmp_path_factory.mktemp("dash")) as s:
        yield s


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("screenshots")
    print(f"\ndashboard screenshots: {directory}")
    return directory


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install -y chromium"
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser: Browser, stack: DashStack) -> Iterator[Page]:
    context = browser.new_context(base_url=stack.relay.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def snap(page: Page, shots: Path, name: str) -> None:
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    assert SANDBOX_API_KEY not in page.content(), f"the API key is shown on {page.url}"


def test_log_in(page: Page, stack: DashStack, shots: Path) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    token = page.locator("input[name=token]")
    expect(token).to_have_attribute("type", "password")
    token.fill("not-the-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_have_text("Wrong admin token.")
    snap(page, shots, "login")
    page.locator("input[name=token]").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "kr_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert ADMIN_TOKEN not in cookie["value"]


def test_overview_numbers_move(page: Page, stack: DashStack, shots: Path) -> None:
    page.goto("/")
    delivered = page.locator('[data-cell="hour/kameleoon/*/delivered"]')
    expect(delivered).to_have_text(re.compile(r"^\d+$"))
    before = int(delivered.inner_text())
    for n in range(3):
        stack.track(f"Overview Click {n}")
    expect(delivered).to_have_text(str(before + 3), timeout=15_000)
    expect(page.locator('[data-cell="hour/kameleoon/logEvent/delivered"]')).to_have_text(
        str(before + 3)
    )
    expect(page.locator('[data-cell="latency/kameleoon/p50"]')).to_have_text(re.compile(r"ms$"))
    expect(page.locator("#chart rect.bar.delivered").first).to_be_attached()
    snap(page, shots, "overview")


def test_find_a_delivery_by_message_id(page: Page, stack: DashStack, shots: Path) -> None:
    message_id = stack.track("Find Me", message_id="dash-find-me-1")
    stack.wait_state(message_id, "delivered")
    stack.track("Someone Else")
    page.goto("/deliveries")
    page.locator("input[name=message_id]").fill(message_id)
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#deliveries tbody tr")
    expect(rows).to_have_count(1)
    snap(page, shots, "deliveries")
    rows.first.get_by_role("link", name=message_id).click()
    expect(page.locator("#delivery-message-id")).to_have_text(message_id)
    expect(page.locator("#delivery-state")).to_have_text("delivered")
    expect(page.locator("#event-json")).to_contain_text('"Find Me"')
    expect(page.locator("#request-json")).to_contain_text('"authorization": "Basic ***"')
    expect(page.locator("#attempts tbody")).to_contain_text("delivered")
    snap(page, shots, "delivery")


def test_replay_a_dead_letter(page: Page, stack: DashStack, shots: Path) -> None:
    faults = f"{stack.sandbox.url}/api/faults"
    httpx.post(faults, json={"error_rate": 1.0}, timeout=10).raise_for_status()
    try:
        message_id = stack.track("Dead Then Alive", message_id="dash-dead-1")
        stack.wait_state(message_id, "dead")
    finally:
        httpx.delete(faults, timeout=10).raise_for_status()
    page.goto("/dead")
    row = page.locator("#dead tbody tr", has_text=message_id)
    expect(row).to_have_count(1)
    row.locator("input.pick").check()
    snap(page, shots, "dead")
    page.get_by_role("button", name="Replay selected").click()
    expect(page.locator("#replay-status")).to_contain_text("delivered 1 of 1")
    assert stack.state_of(message_id) == "delivered"
    assert goals(stack.sandbox.url)["SegmentIO track - Dead Then Alive"]["conversions"] == 1
    snap(page, shots, "dead-replayed")


def test_event_tester(page: Page, stack: DashStack, shots: Path) -> None:
    page.goto("/tester")
    page.locator("textarea#event").fill(
        '{"type": "track", "event": "Tester Event", "userId": "tester-1",'
        ' "properties": {"kameleoonVisitorCode": "vc-tester"}}'
    )
    page.get_by_role("button", name="Test", exact=True).click()
    result = page.locator("#tester-result")
    expect(result.locator('tr[data-matched="true"]')).to_have_text(re.compile("Track Calls"))
    expect(result.locator('tr[data-matched="false"]')).to_have_count(3)
    expect(result.locator("pre.payload")).to_contain_text('"event": "Tester Event"')
    expect(result.locator("pre.request")).to_contain_text('"authorization": "Basic ***"')
    page.get_by_role("button", name="Test and send").click()
    expect(result.locator("pre.response")).to_contain_text("HTTP 200")
    snap(page, shots, "tester")
    # An event breaking the Segment Spec says why.
    page.locator("textarea#event").fill('{"type": "group", "userId": "tester-1"}')
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#tester-problems")).to_contain_text("groupId: required for group calls")


def test_edit_a_mapping(page: Page, stack: DashStack, shots: Path) -> None:
    page.goto("/mappings")
    expect(page.locator(".setting-value").first).to_have_text("***")
    page.get_by_role("button", name="Test authentication").click()
    expect(page.locator(".auth-result")).to_have_text("credentials accepted (HTTP 200)")
    details = page.locator("details.subscription[data-name='Track Calls']")
    details.locator("summary").click()
    form = details.locator("form.sub-edit")
    form.locator("input[name=trigger]").fill('(type = "track"')
    expect(form.locator(".problems li").first).to_contain_text("trigger: unclosed")
    expect(form.locator("button.save")).to_be_disabled()
    snap(page, shots, "mappings-bad-trigger")
    assert not stack.overlay.exists()
    form.locator("input[name=trigger]").fill('type = "track"')
    form.locator("textarea[name=mapping]").fill(
        '{"type": {"@path": "$.type"}, "event": {"@template": "Edited {{event}}"},'
        ' "properties": {"@path": "$.properties"},'
        ' "kameleoonVisitorCode": {"@path": "$.properties.kameleoonVisitorCode"},'
        ' "timestamp": {"@path": "$.timestamp"}, "messageId": {"@path": "$.messageId"}}'
    )
    expect(form.locator(".check")).to_have_text("Trigger and mapping compile.")
    form.locator("button.save").click()
    expect(form.locator(".check")).to_have_text("Saved and reloaded.")
    assert "Edited {{event}}" in stack.overlay.read_text()
    assert SANDBOX_API_KEY not in stack.overlay.read_text()
    page.wait_for_load_state()
    snap(page, shots, "mappings-saved")
    stack.track("After Edit")
    wait_for(
        lambda: "SegmentIO track - Edited After Edit" in goals(stack.sandbox.url),
        "the edited mapping used by the next event",
    )


def test_sandbox_page_at_420px(browser: Browser, stack: DashStack, shots: Path) -> None:
    box = stack.sandbox.url
    good = {"authorization": f"Basic {SANDBOX_API_KEY}", "x-segment-settings": "demosite01"}
    classic = {
        "type": "screenview",
        "name": "Home",
        "messageId": "sbx-classic-1",
        "properties": {"k_visitorCode": "sbx-vc", "kameleoonVisitorCode": "sbx-vc"},
    }
    assert httpx.post(f"{box}/segmentio", json=classic, headers=good).status_code == 200
    refused = {**good, "x-segment-settings": "wrongsite1"}
    body = {"type": "track", "event": "Refused", "messageId": "sbx-refused-1", "userId": "u"}
    assert httpx.post(f"{box}/segmentio", json=body, headers=refused).status_code == 403
    for n in range(26):  # more than one page of 25
        event = {
            "type": "track",
            "event": f"Paged {n}",
            "messageId": f"sbx-page-{n}",
            "userId": "pager",
            "properties": {"kameleoonVisitorCode": "sbx-pager"},
        }
        assert httpx.post(f"{box}/segmentio", json=event, headers=good).status_code == 200
    context = browser.new_context(viewport={"width": 420, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{box}/")
        page.locator("#search").fill("sbx-refused-1")
        refused_row = page.locator("#events tr.rejected")
        expect(refused_row).to_have_count(1)
        expect(refused_row.locator(".reason")).to_contain_text("403: sitecode 'wrongsite1'")
        page.locator("#search").fill("sbx-classic-1")
        expect(page.locator("#events tbody tr").first).to_contain_text("classic · ")
        page.locator("#search").fill("")
        expect(page.locator("#events tbody tr")).to_have_count(25)
        page.get_by_role("button", name="Older").click()
        expect(page.locator("#page-info")).to_contain_text("page 2")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 420, f"the page scrolls sideways at 420 px ({width})"
        snap(page, shots, "sandbox-420px")
    finally:
        context.close()
