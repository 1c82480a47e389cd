"""segment-analytics-python, unmodified, pointed at the relay: every call reaches the sandbox."""

from __future__ import annotations

import pytest
from segment.analytics import Client

from tests.e2e.stack import WRITE_KEY, Stack, goals, visitor, wait_for


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_python_sdk_events_reach_the_sandbox(stack: Stack, gzip: bool) -> None:
    errors: list[str] = []
    client = Client(
        WRITE_KEY,
        host=stack.relay.url,
        gzip=gzip,
        on_error=lambda error, batch: errors.append(repr(error)),
        max_retries=2,
        upload_size=4,
    )
    code = f"py-{'gz' if gzip else 'plain'}"
    purchase = f"Python Purchase {code}"
    client.identify("py-user", {"plan": "pro", "kameleoonVisitorCode": code})
    for _ in range(3):
        client.track("py-user", purchase, {"kameleoonVisitorCode": code, "revenue": 9.5})
    client.page("py-user", "Docs", "Python Page", {"kameleoonVisitorCode": code})
    client.group("py-user", "acme", {"kameleoonVisitorCode": code, "seats": 12})
    client.screen("py-user", "App", "Home")  # no preset maps screens: stored, not delivered
    client.alias("py-user", "py-user-previous")
    client.flush()
    client.join()
    assert errors == []

    def arrived() -> dict | None:
        seen = visitor(stack.sandbox.url, code)
        ready = seen and seen["goals"].get(f"SegmentIO track - {purchase}") == 3
        return seen if ready and seen["views"] and seen["groups"] and seen["traits"] else None

    seen = wait_for(arrived, "every Python SDK call in the sandbox")
    assert goals(stack.sandbox.url)[f"SegmentIO track - {purchase}"]["conversions"] == 3
    assert [(v["kind"], v["name"]) for v in seen["views"]] == [("page", "Python Page")]
    assert seen["traits"]["plan"] == "pro"
    assert seen["groups"]["acme"]["seats"] == 12
