"""Issue 5 end to end: relay process -> sandbox process, over real HTTP.

The classic destination's page/screen/track flow, `Kameleoon identifier`
linking (an event without a code lands on the linked visitor), an Engage
audience identify, and every filter kind with its counts in /api/stats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import (
    SANDBOX_API_KEY,
    SANDBOX_SITECODE,
    WRITE_KEY,
    relay,
    sandbox,
    visitor,
    wait_for,
    write_config,
)

TIMESTAMP = "2024-05-01T12:00:00.000Z"


def destination(name: str, kind: str, sandbox_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "endpoint": f"{sandbox_url}/segmentio",
        "settings": {"apiKey": SANDBOX_API_KEY, "sitecode": SANDBOX_SITECODE},
        **extra,
    }


def send(relay_url: str, events: list[dict[str, Any]]) -> None:
    batch = [{"timestamp": TIMESTAMP, **event} for event in events]
    answer = httpx.post(
        f"{relay_url}/v1/batch", json={"batch": batch}, auth=(WRITE_KEY, ""), timeout=30
    )
    assert answer.status_code == 200, answer.text


def stats(relay_url: str) -> dict[str, Any]:
    return httpx.get(f"{relay_url}/api/stats", timeout=10).json()


def settled(relay_url: str, expected_deliveries: int) -> dict[str, Any] | None:
    current = stats(relay_url)
    done = current["deliveries"]["delivered"] + current["deliveries"]["failed"]
    return current if done >= expected_deliveries else None


@pytest.fixture
def classic_stack(tmp_path: Path):
    with sandbox(tmp_path) as sb:
        config = write_config(
            tmp_path,
            sb.url,
            destinations=[
                destination("classic", "kameleoon-classic", sb.url),
            ],
        )
        with relay(config, tmp_path) as rl:
            yield sb.url, rl.url


def test_classic_page_screen_track_and_identifier_linking(classic_stack) -> None:
    sandbox_url, relay_url = classic_stack
    send(
        relay_url,
        [
            {
                "type": "page",
                "name": "Home",
                "anonymousId": "anon-1",
                "messageId": "c1",
                "properties": {"k_visitorCode": "oa16i4syt2ve3b0z"},
            },
            {
                "type": "screen",
                "name": "Basket",
                "userId": "user-7",
                "messageId": "c2",
                "properties": {"k_visitorCode": "oa16i4syt2ve3b0z"},
            },
            {
                "type": "track",
                "event": "Login Button Clicked",
                "userId": "user-7",
                "messageId": "c3",
                "properties": {"k_visitorCode": "oa16i4syt2ve3b0z"},
            },
            # Linking: the identifier ties user-9 and anon-9 to a code...
            {
                "type": "track",
                "event": "Kameleoon identifier",
                "userId": "user-9",
                "anonymousId": "anon-9",
                "messageId": "c4",
                "properties": {"k_visitorCode": "vc-linked"},
            },
            # ...so later events of either id, carrying no code, land on that visitor.
            {
                "type": "track",
                "event": "Order Completed",
                "anonymousId": "anon-9",
                "messageId": "c5",
            },
            {"type": "page", "name": "Thanks", "userId": "user-9", "messageId": "c6"},
            # Not a classic call: skipped and counted as filtered.
            {"type": "identify", "userId": "user-7", "messageId": "c7", "traits": {"plan": "pro"}},
        ],
    )
    final = wait_for(lambda: settled(relay_url, 6), "six classic deliveries")
    assert final["deliveries"]["delivered"] == 6
    skipped = final["destinations"]["classic"]["filtered"]["call type"]
    assert skipped["events"] == 1 and "not identify" in next(iter(skipped["reasons"]))
    assert final["identity"] == {"links": 2, "conflicts": 0}

    shopper = visitor(sandbox_url, "oa16i4syt2ve3b0z")
    assert {(v["kind"], v["name"]) for v in shopper["views"]} == {
        ("page", "Home"),
        ("screen", "Basket"),
    }
    assert shopper["goals"]["SegmentIO track - Login Button Clicked"] == 1
    linked = visitor(sandbox_url, "vc-linked")
    assert linked["goals"]["Order Completed"] == 1
    assert ("page", "Thanks") in {(v["kind"], v["name"]) for v in linked["views"]}
    assert visitor(sandbox_url, "anon-9") is None  # nothing landed on the bare id


def test_linking_survives_a_relay_restart(tmp_path: Path) -> None:
    with sandbox(tmp_path) as sb:
        config = write_config(
            tmp_path,
            sb.url,
            destinations=[
                destination("actions", "kameleoon-actions", sb.url, identity_linking=True),
            ],
        )
        with relay(config, tmp_path) as rl:
            send(
                rl.url,
                [
                    {
                        "type": "track",
                        "event": "Kameleoon identifier",
                        "userId": "u-r",
                        "messageId": "r1",
                        "properties": {"kameleoonVisitorCode": "vc-r"},
                    }
                ],
            )
            wait_for(lambda: settled(rl.url, 1), "the identifier delivery")
        with relay(config, tmp_path) as rl:
            send(
                rl.url,
                [
                    {
                        "type": "track",
                        "event": "Signed Up",
                        "userId": "u-r",
                        "messageId": "r2",
                        "properties": {},
                    }
                ],
            )
            wait_for(lambda: settled(rl.url, 2), "the linked delivery")
        assert visitor(sb.url, "vc-r")["goals"]["Signed Up"] == 1


def test_engage_audience_identify_reaches_the_visitor(tmp_path: Path) -> None:
    with sandbox(tmp_path) as sb:
        config = write_config(tmp_path, sb.url)
        with relay(config, tmp_path) as rl:
            send(
                rl.url,
                [
                    {
                        "type": "identify",
                        "userId": "u-e",
                        "messageId": "e1",
                        "traits": {
                            "order_completed_last_30_days": True,
                            "kameleoonVisitorCode": "vc-e",
                        },
                        "context": {
                            "personas": {
                                "computation_class": "audience",
                                "computation_key": "order_completed_last_30_days",
                            }
                        },
                    }
                ],
            )
            wait_for(lambda: settled(rl.url, 1), "the audience identify")
        assert visitor(sb.url, "vc-e")["audiences"] == {"order_completed_last_30_days": True}


def test_every_filter_kind_with_counts_in_stats(tmp_path: Path) -> None:
    filters = [
        {"sample": {"percent": 0, "if": 'type = "page"'}},
        {"drop": 'event = "Debug"'},
        {"drop_properties": {"if": 'type = "track"', "fields": ["properties.email"]}},
        {
            "allow_properties": {
                "fields": [
                    "properties.revenue",
                    "properties.kameleoonVisitorCode",
                    "properties.email",
                ]
            }
        },
    ]
    with sandbox(tmp_path) as sb:
        config = write_config(
            tmp_path,
            sb.url,
            destinations=[
                destination("filtered", "kameleoon-actions", sb.url, filters=filters),
            ],
        )
        with relay(config, tmp_path) as rl:
            send(
                rl.url,
                [
                    {"type": "page", "name": "Sampled out", "userId": "u-f", "messageId": "f1"},
                    {"type": "track", "event": "Debug", "userId": "u-f", "messageId": "f2"},
                    {
                        "type": "track",
                        "event": "Order Completed",
                        "userId": "u-f",
                        "messageId": "f3",
                        "properties": {
                            "revenue": 42,
                            "email": "a@b.c",
                            "coupon": "X",
                            "kameleoonVisitorCode": "vc-f",
                        },
                    },
                ],
            )
            final = wait_for(lambda: settled(rl.url, 1), "the one delivery that passes")
            deliveries = httpx.get(f"{rl.url}/api/deliveries?state=delivered", timeout=10).json()
            (delivered,) = deliveries["deliveries"]
            detail = httpx.get(f"{rl.url}/api/deliveries/{delivered['id']}", timeout=10).json()
        assert visitor(sb.url, "vc-f")["goals"]["Order Completed"] == 1
    counts = final["destinations"]["filtered"]["filtered"]
    assert counts["sample[0]"]["events"] == 1 and counts["drop[1]"]["events"] == 1
    assert final["events"]["filtered"] == 2
    assert detail["request"]["json"]["properties"] == {
        "revenue": 42,
        "kameleoonVisitorCode": "vc-f",
    }
