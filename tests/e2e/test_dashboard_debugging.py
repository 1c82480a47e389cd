"""Issue 19's dashboard defects, in Debian's chromium against one real `serve --sandbox`
process (both destinations into its sandbox, two sources, an admin token).

Each page is saved as a screenshot under the test's tmp dir (the path is printed)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.browser_pages import (
    MOBILE_KEY,
    MountedStack,
    log_in,
    mounted_stack,
    new_page,
    snap,
)
from tests.e2e.stack import wait_for
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MountedStack]:
    with mounted_stack(tmp_path_factory.mktemp("dash19")) as s:
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
def page(browser: Browser, stack: MountedStack) -> Iterator[Page]:
    opened = new_page(browser, stack.url)
    log_in(opened)
    yield opened
    opened.context.close()


def test_sandbox_page_opens_from_the_logged_in_dashboard(page: Page, shots: Path) -> None:
    # Defect 1: with admin_token set, the link opened a raw JSON 401.
    page.goto("/")
    page.locator("#sandbox-link").click()
    expect(page).to_have_url(re.compile(r"/sandbox/$"))
    expect(page.locator("#events")).to_be_attached()
    assert "admin token required" not in page.content()
    snap(page, shots, "sandbox-from-dashboard")


def test_no_page_answers_an_error_for_the_favicon(page: Page, stack: MountedStack) -> None:
    # Defect 19: /favicon.ico was a 404 on every page.
    failures: list[str] = []
    page.on("response", lambda r: failures.append(r.url) if r.status >= 400 else None)
    for path in ("/", "/deliveries", "/tester"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon and page.request.get(icon).status == 200
    assert page.request.get("/favicon.ico").status == 200
    assert failures == []


def test_tester_warns_hints_keeps_the_timestamp_and_the_source(
    page: Page, stack: MountedStack, shots: Path
) -> None:
    # Defect 2: warnings hidden; the identify hint named properties; a recent event's
    # timestamp recomputed to now; the source select stayed "any".
    page.goto("/tester")
    page.locator("textarea#event").fill('{"type": "identify", "userId": "hint-1"}')
    page.get_by_role("button", name="Test", exact=True).click()
    result = page.locator("#tester-result")
    warning = result.locator('[data-destination="actions"] .tester-warning')
    expect(warning).to_contain_text("no properties.kameleoonVisitorCode")
    expect(warning).to_contain_text("$.traits.kameleoonVisitorCode")
    expect(result.locator("h3", has_text=re.compile(r"^destination$"))).to_have_count(0)
    snap(page, shots, "tester-warning")

    skewed = {
        "type": "track",
        "event": "Skewed Clock",
        "userId": "skew-1",
        "timestamp": "2020-01-01T00:00:00.000Z",
        "sentAt": "2020-01-01T00:00:05.000Z",
        "properties": {"kameleoonVisitorCode": "vc-skew"},
    }
    message_id = stack.send(skewed, key=MOBILE_KEY)
    stored = stack.wait_final(message_id)[0]
    event = httpx.get(
        f"{stack.url}/api/deliveries/{stored['id']}",
        headers={"authorization": "Bearer issue19-admin-t0ken"},
        timeout=10,
    ).json()["event"]
    time.sleep(1.1)  # a timestamp recomputed from now would differ by more than this
    page.goto("/tester")
    recent = page.locator("#recent")
    label = recent.locator("option", has_text=message_id).inner_text()
    recent.select_option(label=label)
    expect(page.locator("#source")).to_have_value("mobile")
    page.get_by_role("button", name="Test", exact=True).click()
    # The mobile source feeds the classic destination only.
    expect(result.locator("section.result-dest")).to_have_count(1)
    expect(result.locator('[data-destination="classic"] pre.payload')).to_contain_text(
        f'"timestamp": "{event["timestamp"]}"'
    )
    snap(page, shots, "tester-recent")


def test_each_subscription_shows_its_own_state(
    page: Page, stack: MountedStack, shots: Path
) -> None:
    # Defect 4: one failed and one delivered subscription read "failed", last status 200.
    body = {
        "type": "track",
        "event": "Two Subscriptions",
        "userId": "two-1",
        "properties": {"kameleoonVisitorCode": "vc-two"},
    }
    message_id = stack.send(body)
    rows = {r["destination"]: r for r in stack.wait_final(message_id, count=2)}
    assert rows["actions"]["state"] == "failed"
    page.goto(f"/deliveries/{rows['actions']['id']}")
    states = page.locator("#subscription-states")
    expect(states.locator('tr[data-subscription="Track Calls"] .state')).to_have_text("delivered")
    expect(states.locator('tr[data-subscription="Strict Copy"] .state')).to_have_text("failed")
    expect(states.locator('tr[data-subscription="Strict Copy"]')).to_contain_text("messageId")
    snap(page, shots, "delivery-subscriptions")


def test_a_filtered_delivery_says_why(page: Page, stack: MountedStack, shots: Path) -> None:
    # Defect 19: a filtered delivery said "Nothing sent yet.".
    message_id = stack.send({"type": "group", "groupId": "g1", "userId": "f-1"})
    rows = {r["destination"]: r for r in stack.wait_final(message_id, count=2)}
    assert rows["classic"]["state"] == "filtered"
    page.goto(f"/deliveries/{rows['classic']['id']}")
    expect(page.locator("#not-sent")).to_contain_text("filtered")
    expect(page.locator("#not-sent")).not_to_contain_text("Nothing sent yet")
    snap(page, shots, "delivery-filtered")


def test_dead_letters_leave_the_list_once_replayed(
    page: Page, stack: MountedStack, shots: Path
) -> None:
    # Defect 16: replayed rows stayed listed, ticked, until a reload.
    stack.faults(error_rate=1.0)
    try:
        body = {
            "type": "track",
            "event": "Dead Then Replayed",
            "userId": "dead-1",
            "properties": {"kameleoonVisitorCode": "vc-dead"},
        }
        message_id = stack.send(body, key=MOBILE_KEY)
        stack.wait_final(message_id)
    finally:
        stack.faults()
    page.goto("/dead")
    row = page.locator("#dead tbody tr", has_text=message_id)
    expect(row).to_have_count(1)
    total = int(page.locator("#dead-total").inner_text())
    row.locator("input.pick").check()
    page.get_by_role("button", name="Replay selected").click()
    expect(page.locator("#replay-status")).to_contain_text("delivered 1 of 1")
    expect(page.locator("#dead tbody tr", has_text=message_id)).to_have_count(0)
    expect(page.locator("#dead-total")).to_have_text(str(total - 1))
    expect(page.get_by_role("button", name="Replay selected")).to_be_disabled()
    snap(page, shots, "dead-after-replay")


def test_deliveries_list_names_events_searches_them_and_refreshes(
    page: Page, stack: MountedStack, shots: Path
) -> None:
    # Defect 17: no event or source column, no search by event name, no auto-refresh,
    # unlabelled times.
    track = {"type": "track", "event": "Searchable Event", "userId": "search-1",
             "properties": {"kameleoonVisitorCode": "vc-search"}}  # fmt: skip
    first = stack.send(track)
    stack.wait_final(first, count=2)
    page.goto("/deliveries")
    page.locator("input[name=event]").fill("Searchable Event")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#deliveries tbody tr")
    expect(rows).to_have_count(2)  # the actions and classic deliveries of one event
    expect(rows.locator("td.event-name", has_text="Searchable Event")).to_have_count(2)
    expect(rows.locator("td.source", has_text="web")).to_have_count(2)
    expect(page.locator("#deliveries thead")).to_contain_text("UTC")
    when = rows.first.locator("time")
    expect(when).to_have_attribute("title", re.compile(r"^local: "))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", when.inner_text())
    expect(page.locator("#auto-refresh")).to_be_checked()
    stack.send({**track, "userId": "search-2"})  # appears without a reload
    expect(rows).to_have_count(4, timeout=20_000)
    snap(page, shots, "deliveries-event-search")


def test_replay_from_a_filtered_list_counts_first(
    page: Page, stack: MountedStack, shots: Path
) -> None:
    # Defect 3: only /dead could replay; now any filtered list, after a dry-run count.
    failed = stack.admin("/api/deliveries", state="failed", destination="actions")["deliveries"]
    strict = [d for d in failed if d["message_id"] and d["destination"] == "actions"]
    assert strict, "the two-subscriptions test leaves a failed delivery"
    target = strict[0]
    page.goto(f"/deliveries?state=failed&destination=actions&message_id={target['message_id']}")
    expect(page.locator("#deliveries tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Replay these…").click()
    status = page.locator("#replay-matching-status")
    expect(status).to_contain_text("Dry run: 1 finished deliveries match (failed)")
    assert stack.admin(f"/api/deliveries/{target['id']}")["replays"] == target["replays"]
    snap(page, shots, "deliveries-replay-dry-run")
    page.get_by_role("button", name="Replay 1").click()
    expect(status).to_have_text("Requeued 1 of 1.")
    assert stack.admin(f"/api/deliveries/{target['id']}")["replays"] == target["replays"] + 1
    # A list of deliveries still on their way cannot be replayed.
    page.goto("/deliveries?state=pending")
    page.get_by_role("button", name="Replay these…").click()
    expect(status).to_contain_text("only finished deliveries")


def test_deliveries_are_cards_at_420px(browser: Browser, stack: MountedStack, shots: Path) -> None:
    # Defect 20: the list needed horizontal scrolling on a phone.
    narrow = new_page(browser, stack.url, width=420)
    try:
        log_in(narrow)
        narrow.goto("/deliveries")
        expect(narrow.locator("#deliveries tbody tr").first).to_be_visible()
        expect(narrow.locator("#deliveries thead")).to_be_hidden()
        sideways = narrow.evaluate(
            "[...document.querySelectorAll('.scroll, html')]"
            ".filter(e => e.scrollWidth > e.clientWidth + 1).length"
        )
        assert sideways == 0, "something scrolls sideways at 420 px"
        label = narrow.evaluate(
            "getComputedStyle(document.querySelector('#deliveries td[data-label]'), '::before')"
            ".content"
        )
        assert label == '"#"'
        snap(narrow, shots, "deliveries-420px")
    finally:
        narrow.context.close()


def test_sources_page_counts_streams_searches_and_hands_to_the_tester(
    page: Page, stack: MountedStack, shots: Path
) -> None:
    # Missing 3: a Sources page, Segment's source debugger.
    page.goto("/sources")
    card = page.locator('.source-card[data-source="web"]')
    cells = {
        k: card.locator(f'[data-cell="web/{k}"]') for k in ("accepted", "refused", "duplicates")
    }
    expect(page.locator("#sources-updated")).to_contain_text("Updated")
    before = {k: int(cell.inner_text()) for k, cell in cells.items()}
    body = {"type": "track", "event": "Debugged Event", "userId": "debug-user",
            "properties": {"kameleoonVisitorCode": "vc-debug"}}  # fmt: skip
    message_id = stack.send(body)
    stack.send({**body, "messageId": message_id})  # the same messageId again: a duplicate
    nameless = {"type": "track", "userId": "debug-user", "messageId": "debug-no-name"}
    batch = {"batch": [{**body, "messageId": "debug-batch-ok"}, nameless]}
    answer = httpx.post(f"{stack.url}/v1/batch", json=batch, auth=("wk_web_19", ""), timeout=10)
    assert answer.status_code == 200 and answer.json()["rejected"]
    single = {"type": "track", "userId": "debug-user", "messageId": "debug-single-bad"}
    answer = httpx.post(f"{stack.url}/v1/track", json=single, auth=("wk_web_19", ""), timeout=10)
    assert answer.status_code == 400
    expect(cells["accepted"]).to_have_text(str(before["accepted"] + 2), timeout=15_000)
    expect(cells["refused"]).to_have_text(str(before["refused"] + 1))  # the batch's, stored
    expect(cells["duplicates"]).to_have_text(str(before["duplicates"] + 1))
    expect(card.locator(".axis text.time-label").first).to_be_attached()
    expect(card.locator("rect.bar.accepted").first).to_be_attached()
    stream = page.locator("#stream tbody")
    for refused_id in ("debug-no-name", "debug-single-bad"):
        row = stream.locator(f'tr[data-message-id="{refused_id}"]')
        expect(row).to_have_attribute("data-kind", "refused")
        expect(row.locator("td.reason")).to_contain_text("event")
    snap(page, shots, "sources-live")
    page.locator("#stream-q").fill("debug-user")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#stream-mode")).to_contain_text("live paused")
    expect(stream.locator('tr[data-kind="accepted"]')).to_have_count(2)
    stream.locator(f'tr[data-message-id="{message_id}"]').click()
    expect(page.locator("#event-detail-json")).to_contain_text('"event": "Debugged Event"')
    snap(page, shots, "sources-search")
    page.get_by_role("button", name="Send to the tester").click()
    expect(page).to_have_url(re.compile(r"/tester$"))
    expect(page.locator("textarea#event")).to_have_value(re.compile(message_id))
    expect(page.locator("#source")).to_have_value("web")


def test_the_sandbox_tells_both_destinations_apart(stack: MountedStack) -> None:
    # Defect 5: "Sent by" was guessed from the body; an Actions event carrying its own
    # k_visitorCode read "classic". Both destinations deliver into one sandbox here.
    code = {"k_visitorCode": "vc-both", "kameleoonVisitorCode": "vc-both"}
    body = {"type": "track", "event": "Both Destinations", "userId": "both-1", "properties": code}
    message_id = stack.send(body)
    stack.wait_final(message_id, count=2)

    def senders() -> list[str] | None:
        answer = httpx.get(f"{stack.sandbox_url}/api/events", params={"q": message_id})
        found = sorted(e["sender"] for e in answer.json()["events"])
        return found if len(found) == 2 else None

    assert wait_for(senders, "both requests in the sandbox's log") == [
        "actions · kameleoon-relay",
        "classic · kameleoon-relay",
    ]


def test_mapping_editor_fits_the_trigger_starts_from_defaults_and_shows_routing(
    page: Page, stack: MountedStack, shots: Path
) -> None:
    # Defect 15: a 165 px trigger input, no "start from the default mapping", "(3 of at
    # most 50)" on the read-only classic destination, no filters, sources or linking.
    page.goto("/mappings")
    actions = page.locator("#dest-actions")
    expect(actions.locator(".dest-sources")).to_have_text("web")
    expect(actions.locator(".dest-filters")).to_have_text("none")
    classic = page.locator("#dest-classic")
    expect(classic.locator(".dest-sources")).to_have_text("every source")
    expect(classic.locator(".dest-filters")).to_contain_text('"drop":"event = \\"Internal Only\\""')
    expect(classic.locator(".dest-linking")).to_contain_text("on")
    expect(classic.locator("h3")).to_contain_text("fixed")
    expect(classic.locator("h3")).not_to_contain_text("at most")
    expect(actions.locator("h3")).to_contain_text("of at most 50")
    details = actions.locator("details.subscription[data-name='Identify Calls']")
    details.locator("summary").click()
    form = details.locator("form.sub-edit")
    trigger = form.locator("input[name=trigger]")
    box = trigger.bounding_box()
    assert box is not None and box["width"] >= 400, f"trigger input {box} px wide"
    form.get_by_role("button", name="Start from the default mapping").click()
    mapping = form.locator("textarea[name=mapping]")
    expect(mapping).to_have_value(re.compile(r'"@path": "\$\.traits\.kameleoonVisitorCode"'))
    expect(form.locator(".check")).to_contain_text("Trigger and mapping compile.")
    form.locator("select[name=action]").select_option("logEvent")
    form.get_by_role("button", name="Start from the default mapping").click()
    expect(mapping).to_have_value(re.compile(r'"@path": "\$\.event"'))
    snap(page, shots, "mappings-editor")


def test_overview_chart_axes_count_links_and_error_reasons(
    page: Page, stack: MountedStack, shots: Path
) -> None:
    # Missing 4: a chart with axes and time labels whose earlier bars survive a burst,
    # counts linking to their deliveries, the top error reasons of the last hour.
    page.goto("/")
    chart = page.locator("#chart")
    expect(chart.locator(".axis text.time-label").first).to_be_attached()
    assert chart.locator(".axis text.time-label").count() >= 5  # every 10 minutes of an hour
    expect(chart.locator("rect.bar.delivered").first).to_be_attached()
    burst = [
        {"type": "track", "event": "Burst", "userId": f"burst-{n}", "messageId": f"burst-{n}",
         "properties": {"kameleoonVisitorCode": f"vc-burst-{n}"}}
        for n in range(400)
    ]  # fmt: skip
    answer = httpx.post(
        f"{stack.url}/v1/batch", json={"batch": burst}, auth=("wk_web_19", ""), timeout=30
    )
    assert answer.status_code == 200
    received = page.locator('[data-cell="hour/actions/*/received"] a')
    expect(received).to_have_text(re.compile(r"^\d{3,}$"), timeout=20_000)
    heights = chart.locator("rect.bar").evaluate_all(
        "bars => bars.map(b => Number(b.getAttribute('height')))"
    )
    # The few failures beside 400 deliveries, and any quieter minute, stay visible.
    assert heights and min(heights) >= 2, "a bar that is not zero stays visible"
    reasons = page.locator("#reasons tbody")
    expect(reasons).to_contain_text("messageId")  # the Strict Copy subscription's failure
    snap(page, shots, "overview-axes-reasons")
    link = page.locator('[data-cell="hour/actions/*/failed"] a')
    expect(link).to_have_attribute("href", re.compile(r"destination=actions.*state=failed"))
    link.click()
    expect(page).to_have_url(re.compile(r"/deliveries\?"))
    expect(page.locator("select[name=state]")).to_have_value("failed")
    states = page.locator("#deliveries tbody .state").all_inner_texts()
    assert states and set(states) == {"failed"}
