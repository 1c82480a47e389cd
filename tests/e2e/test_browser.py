"""analytics.js (@segment/analytics-next's standalone bundle), unmodified, in headless
Chromium on another origin than the relay: CORS, /v1/t-style paths and batching /b."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.e2e.stack import WRITE_KEY, Stack, goals, npm_install, visitor, wait_for
from tests.e2e.static_site import static_site
from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS


def calls_js(code: str, name: str) -> str:
    return f"""
      analytics.identify("browser-user-{code}", {{plan: "gold", kameleoonVisitorCode: "{code}"}});
      analytics.page("Browser Page {code}", {{kameleoonVisitorCode: "{code}"}});
      for (var n = 0; n < 4; n++) {{
        analytics.track("{name}", {{kameleoonVisitorCode: "{code}", n: n}});
      }}
      analytics.group("initech-{code}", {{kameleoonVisitorCode: "{code}", tier: "b"}});
    """


@pytest.mark.browser
@pytest.mark.parametrize("batching", [False, True], ids=["per-event", "batching"])
def test_analytics_js_in_chromium_reaches_the_sandbox(stack: Stack, batching: bool) -> None:
    npm_install()
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install -y chromium"
    code = f"browser-{'batch' if batching else 'each'}"
    name = f"Browser Click {code}"
    relay_host = stack.relay.url.removeprefix("http://")
    statuses: list[tuple[str, int]] = []
    with (
        static_site(WRITE_KEY, relay_host, calls_js(code, name)) as site,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on(
                "response",
                lambda r: statuses.append((r.url, r.status)) if r.url.startswith(
                    stack.relay.url) else None,
            )  # fmt: skip
            page.goto(f"{site}/?batching={int(batching)}")

            def arrived() -> dict | None:
                page.wait_for_timeout(100)  # lets the page's own timers run
                seen = visitor(stack.sandbox.url, code)
                ready = seen and seen["goals"].get(f"SegmentIO track - {name}") == 4
                return seen if ready and seen["views"] and seen["groups"] else None

            seen = wait_for(arrived, "every analytics.js call in the sandbox")
        finally:
            browser.close()
    assert goals(stack.sandbox.url)[f"SegmentIO track - {name}"]["conversions"] == 4
    assert [(v["kind"], v["name"]) for v in seen["views"]] == [("page", f"Browser Page {code}")]
    assert seen["traits"]["plan"] == "gold"
    assert seen["groups"] == {f"initech-{code}": {"tier": "b"}}
    paths = {url.removeprefix(stack.relay.url) for url, _ in statuses}
    assert all(status == 200 for _, status in statuses), statuses
    assert paths == ({"/v1/b"} if batching else {"/v1/i", "/v1/p", "/v1/t", "/v1/g"})
