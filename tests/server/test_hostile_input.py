"""Issue #11's hostile inputs, each reproduced over HTTP against a real relay: none may
cost a good event, none may reach a 5xx, and each rejection is a JSON 4xx naming why."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.stack import WRITE_KEY, goals, wait_for
from tests.server.conftest import ADMIN_TOKEN, Stack
from tests.server.test_ingest_http import basic, track

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HUGE = "18446744073709551615"  # 2**64 - 1: JSON.parse reads it as 18446744073709552000


def nested(depth: int) -> Any:
    """An object `depth` levels deep."""
    value: Any = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


def post(stack: Stack, path: str, body: bytes | dict) -> httpx.Response:
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    return httpx.post(
        f"{stack.relay.url}{path}",
        headers={**basic(WRITE_KEY), "Content-Type": "application/json"},
        timeout=30,
        **kwargs,
    )


def assert_json_error(answer: httpx.Response, status: int, *needles: str) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    text = str(body)
    for needle in needles:
        assert needle in text, (needle, body)
    return body


def delivered(stack: Stack, name: str) -> dict:
    return wait_for(lambda: goals(stack.sandbox.url).get(f"SegmentIO track - {name}"), name)


def sandbox_event(stack: Stack, name: str) -> dict:
    def find() -> dict | None:
        events = httpx.get(f"{stack.sandbox.url}/api/events?limit=200", timeout=10).json()
        return next((e for e in events["events"] if name in str(e)), None)

    return wait_for(find, f"the sandbox's copy of {name}")


# -- numbers ---------------------------------------------------------------------------


def test_an_integer_beyond_64_bits_is_kept_as_javascript_reads_it(stack: Stack) -> None:
    name = unique("Huge Number")
    raw = (
        b'{"userId":"u-huge","event":"'
        + name.encode()
        + b'","properties":{"x":'
        + HUGE.encode()
        + b',"y":-99999999999999999999,"kameleoonVisitorCode":"vc-huge"}}'
    )
    answer = post(stack, "/v1/track", raw)
    assert answer.status_code == 200, answer.text
    delivered(stack, name)
    # Kameleoon receives the float64 JSON.parse makes of it (bytes: tests/ingest/test_limits.py).
    properties = sandbox_event(stack, name)["body"]["properties"]
    assert properties["x"] == 2.0**64
    assert properties["y"] == -1e20


def test_a_huge_integer_in_a_batch_costs_no_valid_event(stack: Stack) -> None:
    good, huge = unique("Batch Good"), unique("Batch Huge")
    raw = (
        b'{"batch":[{"type":"track","userId":"u1","event":"' + good.encode() + b'"},'
        b'{"type":"track","userId":"u1","event":"' + huge.encode() + b'",'
        b'"properties":{"x":' + HUGE.encode() + b"}}]}"
    )
    answer = post(stack, "/v1/batch", raw)
    assert answer.status_code == 200, answer.text
    delivered(stack, good)
    delivered(stack, huge)


# -- nesting ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [66, 200, 254, 300, 600, 1100, 5000])
def test_deep_nesting_is_a_clear_400(stack: Stack, depth: int) -> None:
    # Built as text: Python's own encoder cannot write it.
    raw = b'{"userId":"u","event":"Deep","properties":{"deep":' + b'{"a":' * depth
    answer = post(stack, "/v1/track", raw + b"1" + b"}" * (depth + 2))
    assert_json_error(answer, 400, "nested deeper than")


def test_an_event_nested_too_deep_in_a_batch_is_kept_apart_and_the_rest_stored(
    stack: Stack,
) -> None:
    good, deep = unique("Nest Good"), unique("Nest Deep")
    batch = [
        {"type": "track", "userId": "u2", "event": good},
        {"type": "track", "userId": "u2", "event": deep, "properties": {"d": nested(80)}},
    ]
    answer = post(stack, "/v1/batch", {"batch": batch})
    assert answer.status_code == 200, answer.text
    problems = answer.json()["rejected"]
    assert any("batch[1]: properties.d" in p and "64 levels" in p for p in problems)
    delivered(stack, good)
    rejected = httpx.get(f"{stack.relay.url}/api/rejected", headers=ADMIN, timeout=10).json()
    assert any(row["event"].get("event") == deep for row in rejected["rejected"])


def test_a_batch_nested_past_the_body_limit_is_refused_whole_with_a_400(stack: Stack) -> None:
    batch = [{"type": "track", "userId": "u3", "event": "x", "properties": {"d": nested(300)}}]
    assert_json_error(post(stack, "/v1/batch", {"batch": batch}), 400, "nested deeper than 128")


def test_a_deep_shared_context_in_a_batch_is_a_400_not_a_store_failure(stack: Stack) -> None:
    body = {"context": nested(120), "batch": [{"type": "track", "userId": "u", "event": "e"}]}
    answer = post(stack, "/v1/batch", body)
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 200:  # kept apart as rejected: nested past 64 with context
        assert answer.json()["rejected"]


def _outside_events(where: str, depth: int) -> tuple[str, dict | list]:
    """A body whose deepest part is `depth` levels deep, in a part no event carries."""
    event = {"type": "track", "userId": "u4", "event": "Outside"}
    if where == "batch top level":  # the body, then the value
        return "/v1/batch", {"batch": [event], "extra": nested(depth - 1)}
    if where == "batch event's writeKey":  # the body, `batch`, the event, then the value
        return "/v1/batch", {"batch": [{**event, "writeKey": nested(depth - 3)}]}
    if where == "track's type":
        return "/v1/track", {**event, "type": nested(depth - 1)}
    if where == "track's writeKey":
        return "/v1/track", {**event, "writeKey": nested(depth - 1)}
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return "/v1/track", value


@pytest.mark.parametrize(
    "where",
    ["batch top level", "batch event's writeKey", "track's type", "track's writeKey", "array"],
)
@pytest.mark.parametrize("depth", [128, 129])
def test_the_body_limit_holds_outside_the_events(stack: Stack, where: str, depth: int) -> None:
    path, body = _outside_events(where, depth)
    answer = post(stack, path, orjson.dumps(body))
    if depth > 128:
        assert_json_error(answer, 400, "nested deeper than 128")
    elif where == "array":
        assert_json_error(answer, 400, "expected a JSON object")
    else:
        assert answer.status_code == 200 and answer.json() == {"success": True}, answer.text


@pytest.mark.parametrize("depth", [128, 129])
def test_the_body_limit_is_answered_before_other_refusals(stack: Stack, depth: int) -> None:
    deep = nested(depth - 1)
    no_key = httpx.post(
        f"{stack.relay.url}/v1/batch", json={"writeKey": "nope", "extra": deep}, timeout=30
    )
    not_object = post(stack, "/v1/batch", orjson.dumps({"batch": [1], "extra": deep}))
    if depth > 128:
        assert_json_error(no_key, 400, "nested deeper than 128")
        assert_json_error(not_object, 400, "nested deeper than 128")
    else:
        assert_json_error(no_key, 401, "write key")
        assert_json_error(not_object, 400, "batch[0] is not a JSON object")


@pytest.mark.parametrize("depth", [63, 64, 65])
def test_an_event_at_the_event_limit_in_a_batch(stack: Stack, depth: int) -> None:
    name = unique(f"Depth {depth}")
    batch = [{"type": "track", "userId": "u5", "event": name, "properties": nested(depth - 1)}]
    answer = post(stack, "/v1/batch", orjson.dumps({"batch": batch}))
    assert answer.status_code == 200, answer.text
    if depth <= 64:
        assert answer.json() == {"success": True}
    else:
        assert answer.json()["rejected"] == [
            "batch[0]: properties.a.a.….a.a.a: nested deeper than 64 levels"
        ]


# -- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "sent_at"),
    [
        ("0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"),
        ("9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z"),
    ],
)
def test_skew_correction_out_of_range_is_a_400(stack: Stack, timestamp: str, sent_at: str) -> None:
    body = track(unique("Edge Date"), "vc-date", timestamp=timestamp, sentAt=sent_at)
    assert_json_error(post(stack, "/v1/track", body), 400, "timestamp", "years 1 to 9999")


def test_a_timestamp_outside_the_range_in_utc_is_a_400(stack: Stack) -> None:
    body = track(unique("Edge Offset"), "vc-date", timestamp="0001-01-01T00:00:00+05:00")
    assert_json_error(post(stack, "/v1/track", body), 400, "timestamp", "years 1 to 9999")


def test_an_edge_date_in_a_batch_costs_no_valid_event(stack: Stack) -> None:
    good = unique("Date Good")
    batch = [
        {"type": "track", "userId": "u4", "event": good},
        {
            "type": "track",
            "userId": "u4",
            "event": "bad date",
            "timestamp": "0001-01-01T00:00:00Z",
            "sentAt": "9999-12-31T00:00:00Z",
        },
    ]
    answer = post(stack, "/v1/batch", {"batch": batch})
    assert answer.status_code == 200, answer.text
    assert any(p.startswith("batch[1]: timestamp") for p in answer.json()["rejected"])
    delivered(stack, good)


# -- credentials and parameters ---------------------------------------------------------


@pytest.mark.parametrize("value", [b"Basic \xe9", b"Basic \xe9\xe9==", b"Basic \xff:x", b"Basic"])
def test_undecodable_basic_credentials_are_a_401(stack: Stack, value: bytes) -> None:
    answer = httpx.post(
        f"{stack.relay.url}/v1/track",
        content=b'{"userId":"u","event":"e"}',
        headers={"Authorization": value, "Content-Type": "application/json"},
    )
    assert_json_error(answer, 401, "write key")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/deliveries/99999999999999999999999", 404),
        ("/api/deliveries/9223372036854775808", 404),
        ("/api/deliveries/%C2%B2", 404),
        ("/api/deliveries/%D9%A3", 404),
        ("/api/deliveries/-1", 404),
        ("/api/deliveries/0", 404),
        ("/api/deliveries?limit=%C2%B2", 400),
        ("/api/deliveries?limit=" + "9" * 5000, 400),
        ("/api/deliveries?state=bogus", 400),
        ("/api/rejected?limit=%C2%B2", 400),
        ("/api/rejected?limit=0", 400),
    ],
)
def test_bad_ids_and_parameters_are_json_4xx(stack: Stack, path: str, status: int) -> None:
    answer = httpx.get(f"{stack.relay.url}{path}", headers=ADMIN, timeout=10)
    assert_json_error(answer, status)


def test_retrying_is_a_state_the_delivery_log_filters_on(stack: Stack) -> None:
    answer = httpx.get(f"{stack.relay.url}/api/deliveries?state=retrying", headers=ADMIN)
    assert answer.status_code == 200, answer.text
    assert all(row["attempts"] > 0 for row in answer.json()["deliveries"])
    assert "retrying" in httpx.get(f"{stack.relay.url}/api/stats", headers=ADMIN).text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"track","userId":"u","event":"e","properties":{"x":' + HUGE.encode() + b"}}",
        b'{"type":"track","userId":"u","event":"e","timestamp":"0001-01-01T00:00:00Z",'
        b'"sentAt":"9999-12-31T00:00:00Z"}',
        b'{"type":"track","userId":"u","event":"e","properties":'
        + b'{"a":' * 600
        + b"1"
        + b"}" * 601,
        b'{"event":{"type":"track","userId":"u","event":"e"},"source":[1]}',
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_preview_answers_hostile_events_without_a_5xx(stack: Stack, raw: bytes) -> None:
    answer = httpx.post(
        f"{stack.relay.url}/api/preview",
        content=raw,
        headers={**ADMIN, "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    if answer.status_code == 200:  # the huge number: previewed as the float64 JS reads
        request = answer.json()["deliveries"][0]["request"]
        assert request["json"]["properties"]["x"] == 2.0**64
