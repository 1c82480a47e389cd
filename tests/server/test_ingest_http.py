"""The Segment HTTP Tracking API over real HTTP: auth, limits, shapes, CORS, dedupe."""

from __future__ import annotations

import base64
import gzip
import uuid
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.stack import WRITE_KEY, goals, visitor, wait_for
from tests.server.conftest import ADMIN_TOKEN, Stack

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def track(name: str, visitor_code: str, **extra: Any) -> dict[str, Any]:
    return {
        "userId": f"user-{visitor_code}",
        "event": name,
        "properties": {"kameleoonVisitorCode": visitor_code},
        **extra,
    }


def received(stack: Stack) -> int:
    return httpx.get(f"{stack.relay.url}/api/stats", headers=ADMIN).json()["events"]["received"]


def test_a_track_call_is_stored_and_reaches_the_sandbox(stack: Stack) -> None:
    answer = httpx.post(
        f"{stack.relay.url}/v1/track",
        json=track("Ingest Works", "vis-ingest"),
        headers=basic(WRITE_KEY),
    )
    assert answer.status_code == 200
    assert answer.json() == {"success": True}
    goal = wait_for(lambda: goals(stack.sandbox.url).get("SegmentIO track - Ingest Works"), "goal")
    assert goal["conversions"] == 1
    assert visitor(stack.sandbox.url, "vis-ingest")["goals"] == {
        "SegmentIO track - Ingest Works": 1
    }


def test_analytics_js_shape_text_plain_with_the_key_in_the_body(stack: Stack) -> None:
    body = {**track("Short Path", "vis-short"), "writeKey": WRITE_KEY}
    answer = httpx.post(
        f"{stack.relay.url}/v1/t",
        content=orjson.dumps(body),
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    wait_for(lambda: goals(stack.sandbox.url).get("SegmentIO track - Short Path"), "goal")


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/b", "/b", "/v1/import"])
def test_every_batch_path_takes_a_batch(stack: Stack, path: str) -> None:
    name = f"Batched via {path}"
    batch = {"batch": [{"type": "track", **track(name, "vis-batch")}], "writeKey": WRITE_KEY}
    answer = httpx.post(f"{stack.relay.url}{path}", json=batch)
    assert answer.status_code == 200, answer.text
    wait_for(lambda: goals(stack.sandbox.url).get(f"SegmentIO track - {name}"), name)


def test_page_and_identify_land_as_a_view_and_traits(stack: Stack) -> None:
    url = stack.relay.url
    page = {
        "anonymousId": "anon-p",
        "name": "Pricing",
        "properties": {"kameleoonVisitorCode": "vis-page"},
    }
    identify = {"userId": "u-id", "traits": {"plan": "pro", "kameleoonVisitorCode": "vis-page"}}
    assert httpx.post(f"{url}/v1/page", json=page, headers=basic(WRITE_KEY)).status_code == 200
    assert httpx.post(f"{url}/v1/i", json=identify, headers=basic(WRITE_KEY)).status_code == 200
    seen = wait_for(
        lambda: (v := visitor(stack.sandbox.url, "vis-page")) and v["views"] and v["traits"] and v,
        "page view and traits",
    )
    assert [view["name"] for view in seen["views"]] == ["Pricing"]
    assert seen["traits"]["plan"] == "pro"


def test_gzip_bodies_are_read(stack: Stack) -> None:
    body = gzip.compress(orjson.dumps(track("Gzipped", "vis-gzip")))
    answer = httpx.post(
        f"{stack.relay.url}/v1/track",
        content=body,
        headers={
            **basic(WRITE_KEY),
            "Content-Encoding": "gzip",
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 200, answer.text
    wait_for(lambda: goals(stack.sandbox.url).get("SegmentIO track - Gzipped"), "goal")


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (basic("not-a-key"), track("X", "v")),
        ({}, track("X", "v")),
        ({}, {**track("X", "v"), "writeKey": "not-a-key"}),
        ({"Authorization": "Basic !!!"}, track("X", "v")),
    ],
    ids=["unknown-basic", "missing", "unknown-in-body", "garbled-basic"],
)
def test_unknown_or_missing_write_key_is_401(stack: Stack, headers: dict, body: dict) -> None:
    before = received(stack)
    answer = httpx.post(f"{stack.relay.url}/v1/track", json=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["success"] is False
    assert "write key" in answer.json()["error"]
    assert received(stack) == before


@pytest.mark.parametrize(
    ("path", "content", "error"),
    [
        ("/v1/track", b"{not json", "invalid JSON"),
        ("/v1/track", b"[1, 2]", "JSON object"),
        ("/v1/track", b"", "empty"),
        ("/v1/track", orjson.dumps(track("x" * 33 * 1024, "v")), "too large"),
        ("/v1/batch", orjson.dumps({"batch": [track("y" * 20_000, "v")] * 26}), "too large"),
        ("/v1/batch", orjson.dumps({"batch": [{"type": "track"}] * 2501}), "at most 2500"),
        ("/v1/batch", orjson.dumps({"batch": [track("z" * 33 * 1024, "v")]}), "batch[0]"),
        ("/v1/batch", orjson.dumps({"events": []}), "`batch` array"),
    ],
    ids=[
        "unparsable",
        "array",
        "empty",
        "message>32KB",
        "batch>500KB",
        "2501-events",
        "event>32KB",
        "no-batch",
    ],
)
def test_bad_payloads_are_400_with_a_json_error(
    stack: Stack, path: str, content: bytes, error: str
) -> None:
    before = received(stack)
    answer = httpx.post(f"{stack.relay.url}{path}", content=content, headers=basic(WRITE_KEY))
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert error in answer.json()["error"]
    assert received(stack) == before


def test_a_batch_keeps_its_valid_events_and_the_invalid_ones_with_reasons(stack: Stack) -> None:
    before = received(stack)
    bad = {"type": "track", "userId": "u", "messageId": f"bad-{uuid.uuid4()}"}
    batch = {"batch": [{"type": "track", **track("Fine", "v")}, bad]}
    answer = httpx.post(f"{stack.relay.url}/v1/batch", json=batch, headers=basic(WRITE_KEY))
    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "rejected": ["batch[1]: event: required for track calls"],
    }
    assert received(stack) == before + 1
    kept = httpx.get(f"{stack.relay.url}/api/rejected?limit=5", headers=ADMIN).json()["rejected"]
    assert kept[0]["message_id"] == bad["messageId"]
    assert kept[0]["problems"] == ["event: required for track calls"]
    assert kept[0]["event"] == bad


def test_an_invalid_single_event_is_a_400(stack: Stack) -> None:
    before = received(stack)
    answer = httpx.post(
        f"{stack.relay.url}/v1/track", json={"userId": "u"}, headers=basic(WRITE_KEY)
    )
    assert answer.status_code == 400
    assert answer.json()["problems"] == ["event: required for track calls"]
    assert received(stack) == before


def test_a_messageid_seen_before_is_a_duplicate(stack: Stack) -> None:
    stats = lambda: httpx.get(f"{stack.relay.url}/api/stats", headers=ADMIN).json()["events"]  # noqa: E731
    before = stats()
    event = track("Deduped", "vis-dup", messageId=f"dup-{uuid.uuid4()}")
    for _ in range(3):
        answer = httpx.post(f"{stack.relay.url}/v1/track", json=event, headers=basic(WRITE_KEY))
        assert answer.status_code == 200
    after = stats()
    assert after["received"] - before["received"] == 1
    assert after["duplicates"] - before["duplicates"] == 2
    goal = wait_for(lambda: goals(stack.sandbox.url).get("SegmentIO track - Deduped"), "goal")
    assert goal["conversions"] == 1


def test_cors_preflight_and_response_headers_on_ingest_only(stack: Stack) -> None:
    origin = "http://shop.example"
    pre = httpx.options(
        f"{stack.relay.url}/v1/t",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == origin
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert pre.headers["access-control-allow-headers"] == "authorization,content-type"
    post = httpx.post(
        f"{stack.relay.url}/v1/t",
        json={**track("Cors", "v-cors"), "writeKey": "wrong"},
        headers={"Origin": origin},
    )
    assert post.status_code == 401  # a browser must be able to read the error too
    assert post.headers["access-control-allow-origin"] == origin
    admin = httpx.get(f"{stack.relay.url}/api/stats", headers={**ADMIN, "Origin": origin})
    assert "access-control-allow-origin" not in admin.headers
