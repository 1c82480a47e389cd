"""The admin API, /metrics, /health and /openapi.json over real HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.stack import SANDBOX_API_KEY, WRITE_KEY, wait_for
from tests.server.conftest import ADMIN_TOKEN, Stack
from tests.server.test_ingest_http import basic, track

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ADMIN_ROUTES = [
    ("GET", "/api/stats"),
    ("GET", "/api/deliveries"),
    ("GET", "/api/deliveries/1"),
    ("POST", "/api/preview"),
    ("POST", "/api/replay"),
]


def send(stack: Stack, name: str, code: str) -> str:
    message_id = f"adm-{uuid.uuid4()}"
    event = track(name, code, messageId=message_id)
    answer = httpx.post(f"{stack.relay.url}/v1/track", json=event, headers=basic(WRITE_KEY))
    assert answer.status_code == 200
    return message_id


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", f"Basic {ADMIN_TOKEN}"])
def test_admin_routes_need_the_token(
    stack: Stack, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    answer = httpx.request(method, f"{stack.relay.url}{path}", headers=headers, json={})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_stats_count_per_destination_and_action(stack: Stack) -> None:
    send(stack, "Stats Event", "vis-stats")

    def settled() -> dict | None:
        stats = httpx.get(f"{stack.relay.url}/api/stats", headers=ADMIN).json()
        per = stats["destinations"]
        done = per.get("kameleoon", {}).get("total", {}).get("delivered", 0) >= 1
        failed = per.get("broken", {}).get("total", {}).get("failed", 0) >= 1
        return stats if done and failed else None

    stats = wait_for(settled, "one delivered and one failed delivery")
    assert stats["events"]["received"] >= 1
    assert stats["destinations"]["kameleoon"]["actions"]["logEvent"]["delivered"] >= 1
    assert set(stats["deliveries"]) >= {"pending", "retrying", "delivered", "failed", "dead"}


def test_delivery_log_lists_and_shows_a_delivery_without_the_api_key(stack: Stack) -> None:
    message_id = send(stack, "Logged Event", "vis-log")

    def delivered() -> list | None:
        rows = httpx.get(
            f"{stack.relay.url}/api/deliveries?state=delivered&limit=1000", headers=ADMIN
        ).json()["deliveries"]
        return [row for row in rows if row["message_id"] == message_id] or None

    [row] = wait_for(delivered, "the delivery in the log")
    assert row["destination"] == "kameleoon" and row["state"] == "delivered"
    answer = httpx.get(f"{stack.relay.url}/api/deliveries/{row['id']}", headers=ADMIN)
    assert answer.status_code == 200
    detail = answer.json()
    assert detail["event"]["messageId"] == message_id
    assert detail["request"]["json"]["event"] == "Logged Event"
    assert detail["request"]["headers"]["authorization"] == "Basic ***"
    assert SANDBOX_API_KEY not in answer.text
    limited = httpx.get(f"{stack.relay.url}/api/deliveries?limit=1", headers=ADMIN).json()
    assert len(limited["deliveries"]) == 1


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/deliveries?state=bogus", 400),
        ("/api/deliveries?limit=0", 400),
        ("/api/deliveries?limit=abc", 400),
        ("/api/deliveries/999999999", 404),
        ("/api/deliveries/not-an-id", 404),
    ],
)
def test_delivery_log_refuses_bad_queries(stack: Stack, path: str, status: int) -> None:
    answer = httpx.get(f"{stack.relay.url}{path}", headers=ADMIN)
    assert answer.status_code == status
    assert answer.json()["success"] is False


def test_preview_shows_the_request_with_the_api_key_masked(stack: Stack) -> None:
    event = {"type": "track", **track("Previewed", "vis-prev"), "messageId": "prev-1"}
    for body in (event, {"event": event, "source": "web"}):
        answer = httpx.post(f"{stack.relay.url}/api/preview", json=body, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        preview = answer.json()
        assert preview["messageId"] == "prev-1"
        destinations = {d["destination"] for d in preview["deliveries"]}
        assert destinations == {"kameleoon", "broken"}
        assert SANDBOX_API_KEY not in answer.text
    json_type = {**ADMIN, "content-type": "application/json"}
    bad = httpx.post(f"{stack.relay.url}/api/preview", content=b"nope", headers=json_type)
    assert bad.status_code == 400
    # Issue 22: a JSON body must say so (a cross-site form cannot).
    undeclared = httpx.post(f"{stack.relay.url}/api/preview", content=b"{}", headers=ADMIN)
    assert undeclared.status_code == 415
    assert "content-type: application/json" in undeclared.json()["error"]
    invalid = httpx.post(
        f"{stack.relay.url}/api/preview", json={"type": "track", "userId": "u"}, headers=ADMIN
    )
    assert invalid.status_code == 400
    assert invalid.json()["problems"] == ["event: required for track calls"]


def test_preview_fills_what_ingest_fills(stack: Stack) -> None:
    event = {"type": "track", "event": "Bare", "userId": "u-bare"}
    answer = httpx.post(f"{stack.relay.url}/api/preview", json=event, headers=ADMIN).json()
    assert answer["messageId"].startswith("api-")
    [kameleoon] = [d for d in answer["deliveries"] if d["destination"] == "kameleoon"]
    assert "error" not in kameleoon
    sent = kameleoon["request"]["json"]
    assert sent["messageId"] == answer["messageId"] and sent["timestamp"]


def test_replay_requeues_failed_deliveries_and_dry_run_changes_nothing(stack: Stack) -> None:
    send(stack, "Replayed", "vis-replay")
    url = stack.relay.url

    def failed_count() -> int:
        stats = httpx.get(f"{url}/api/stats", headers=ADMIN).json()
        return stats["destinations"].get("broken", {}).get("total", {}).get("failed", 0)

    failed = wait_for(failed_count, "failed deliveries to replay")
    body = {"state": "failed", "destination": "broken", "dry_run": True}
    dry = httpx.post(f"{url}/api/replay", json=body, headers=ADMIN)
    assert dry.status_code == 200
    report = dry.json()
    assert (report["matched"], report["requeued"], report["dry_run"]) == (failed, 0, True)
    assert report["plan"] == {"broken": {"logEvent": failed}}
    assert report["example"]["request"]["headers"]["authorization"] == "Basic ***"
    assert SANDBOX_API_KEY not in dry.text
    assert failed_count() == failed
    future = {"state": "failed", "since": "2999-01-01T00:00:00Z", "dry_run": True}
    assert httpx.post(f"{url}/api/replay", json=future, headers=ADMIN).json()["matched"] == 0
    real = httpx.post(f"{url}/api/replay", json={**body, "dry_run": False}, headers=ADMIN)
    assert real.json() == {"matched": failed, "requeued": failed, "dry_run": False}
    # Requeued, attempted again, refused again by the sandbox: replays count up.
    wait_for(
        lambda: any(
            row["replays"] >= 1 and row["state"] == "failed"
            for row in httpx.get(
                f"{url}/api/deliveries?state=failed&limit=1000", headers=ADMIN
            ).json()["deliveries"]
        ),
        "the replayed delivery to fail again",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"state": "pending"},
        {"since": "yesterday"},
        {"dry_run": "yes"},
        {"destination": 3},
        {"destination": "nowhere"},
        {"since": "1h", "until": "2h"},
    ],
)
def test_replay_refuses_bad_requests(stack: Stack, body: dict) -> None:
    answer = httpx.post(f"{stack.relay.url}/api/replay", json=body, headers=ADMIN)
    assert answer.status_code == 400


def test_health_and_openapi_need_no_token_metrics_take_the_admin_one(stack: Stack) -> None:
    url = stack.relay.url
    assert httpx.get(f"{url}/health").json() == {"status": "ok", "database": "up"}
    send(stack, "Metered", "vis-metrics")
    # Issue #11: with admin_token set, /metrics needs it, as a Bearer (Prometheus sends it so).
    assert httpx.get(f"{url}/metrics").status_code == 401
    metrics = httpx.get(f"{url}/metrics", headers=ADMIN)
    assert metrics.status_code == 200
    assert 'kameleoon_relay_ingest_events_total{outcome="accepted"}' in metrics.text
    assert 'kameleoon_relay_ingest_requests_total{endpoint="track",status="200"}' in metrics.text
    spec = httpx.get(f"{url}/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert spec["paths"]["/api/stats"]["get"]["security"] == [{"adminToken": []}]
