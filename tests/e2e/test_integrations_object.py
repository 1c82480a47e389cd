"""The `integrations` object end to end: relay process -> sandbox process.

The same events as Segment's docs describe them (guides/filtering-data, and each
destination's "Refer to it as ... in the Integrations object"), through both
Kameleoon destinations into one sandbox: what is turned off ends `filtered` with
the reason, and nothing of it reaches the sandbox.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.stack import relay, sandbox, visitor, wait_for, write_config
from tests.e2e.test_classic_filters_linking import destination, send

# messageId -> (integrations, reaches "actions", reaches "classic")
CASES: dict[str, tuple[dict[str, Any] | None, bool, bool]] = {
    "i-none": (None, True, True),
    "i-all-off": ({"All": False}, False, False),
    "i-both-off": ({"Kameleoon": False, "Actions Kameleoon": False}, False, False),
    "i-classic-off": ({"Kameleoon": False}, True, False),
    "i-only-actions": ({"All": False, "Kameleoon (Actions)": True}, True, False),
    "i-only-classic": ({"All": False, "Kameleoon": {"consent": "yes"}}, False, True),
    "i-lowercase": ({"kameleoon": False, "actions kameleoon": False}, True, True),
    "i-by-name": ({"actions": False}, False, True),
}


def deliveries_of(relay_url: str) -> dict[tuple[str, str], dict[str, Any]]:
    answer = httpx.get(f"{relay_url}/api/deliveries?limit=100", timeout=10).json()
    return {(d["message_id"], d["destination"]): d for d in answer["deliveries"]}


def settled(relay_url: str) -> dict[tuple[str, str], dict[str, Any]] | None:
    found = deliveries_of(relay_url)
    done = [d for d in found.values() if d["state"] in ("delivered", "filtered", "failed")]
    return found if len(done) == 2 * len(CASES) else None


def show_before_sending(relay_url: str, event: dict[str, Any]) -> tuple[dict, dict]:
    """`POST /api/preview` and the dashboard tester's API for one event (nothing sent)."""
    preview = httpx.post(f"{relay_url}/api/preview", json=event, timeout=10)
    assert preview.status_code == 200, preview.text
    with httpx.Client(base_url=relay_url, timeout=10) as client:
        page = client.get("/", headers={"accept": "text/html"}).text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert csrf is not None
        tester = client.post(
            "/dashboard/api/tester",
            json={"event": event, "send": False},
            headers={"x-csrf-token": csrf.group(1)},
        )
    assert tester.status_code == 200, tester.text
    return preview.json(), tester.json()


def test_integrations_object_through_both_destinations(tmp_path: Path) -> None:
    events = []
    for message_id, (integrations, _, _) in CASES.items():
        code = f"vc-{message_id}"
        event: dict[str, Any] = {
            "type": "track",
            "event": "Signed Up",
            "userId": f"u-{message_id}",
            "messageId": message_id,
            "properties": {"kameleoonVisitorCode": code, "k_visitorCode": code},
        }
        if integrations is not None:
            event["integrations"] = integrations
        events.append(event)
    with sandbox(tmp_path) as sb:
        config = write_config(
            tmp_path,
            sb.url,
            destinations=[
                destination("actions", "kameleoon-actions", sb.url),
                destination("classic", "kameleoon-classic", sb.url),
            ],
        )
        with relay(config, tmp_path) as rl:
            send(rl.url, events)
            final = wait_for(lambda: settled(rl.url), "every delivery settled")
            stats = httpx.get(f"{rl.url}/api/stats", timeout=10).json()
            preview, tester = show_before_sending(rl.url, events[1])
            one = final[("i-all-off", "actions")]
            detail = httpx.get(f"{rl.url}/api/deliveries/{one['id']}", timeout=10).json()
        for message_id, (_, to_actions, to_classic) in CASES.items():
            for name, reaches in (("actions", to_actions), ("classic", to_classic)):
                entry = final[(message_id, name)]
                assert entry["state"] == ("delivered" if reaches else "filtered"), (
                    message_id,
                    name,
                    entry,
                )
                if not reaches:
                    assert entry["last_error"].startswith("integrations: integrations")
            sent = visitor(sb.url, f"vc-{message_id}")
            if to_actions or to_classic:
                assert sent is not None and sent["goals"]["Signed Up"] >= 1, message_id
            else:
                assert sent is None, f"{message_id} reached the sandbox"
    assert "integrations.All is false" in detail["last_error"]
    assert {d["destination"]: d["filtered"]["filter"] for d in preview["deliveries"]} == {
        "actions": "integrations",
        "classic": "integrations",
    }
    for shown in tester["destinations"]:
        (entry,) = shown["deliveries"]
        assert entry["filtered"]["reason"].startswith("integrations.All is false"), entry
    off = sum(not a for _, a, _ in CASES.values()) + sum(not c for _, _, c in CASES.values())
    counted = sum(
        stats["destinations"][name]["filtered"]["integrations"]["events"]
        for name in ("actions", "classic")
    )
    assert counted == off
