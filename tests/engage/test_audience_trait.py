from __future__ import annotations

import random

from kameleoon_relay.engage import audience_memberships, audience_trait
from tests.helpers.oracle import run_oracle

PIECES = [
    "Order",
    "Completed",
    "last",
    "30",
    "Days",
    "VIP",
    "HTMLParser",
    "fooBar",
    "Café",
    "--",
    " ",
    "_",
    "-",
    "2x",
    "ÀÉÎ",
    "users",
    "CamelCase",
    "ABCdef",
    "v2Beta",
    "!",
]


def test_examples() -> None:
    assert audience_trait("Order Completed Last 30 Days") == "order_completed_last_30_days"
    assert audience_trait("High Value VIPs") == "high_value_vi_ps"  # as lodash splits it


def test_matches_lodash_snake_case_on_generated_names() -> None:
    rng = random.Random(7)
    names = [
        "".join(rng.choice(PIECES) + rng.choice(["", " ", "-"]) for _ in range(rng.randint(1, 5)))
        for _ in range(2000)
    ]
    expected = run_oracle("snakecase_oracle.js", names)
    mismatches = [
        (n, e, audience_trait(n))
        for n, e in zip(names, expected, strict=True)
        if audience_trait(n) != e
    ]
    assert not mismatches, mismatches[:5]


def test_memberships_from_engage_calls() -> None:
    identify = {
        "type": "identify",
        "userId": "u",
        "traits": {"vip_users": True},
        "context": {"personas": {"computation_class": "audience", "computation_key": "vip_users"}},
    }
    assert audience_memberships(identify) == {"vip_users": True}
    exited = {
        "type": "track",
        "event": "Audience Exited",
        "properties": {"vip_users": False},
        "context": {"personas": {"computation_class": "audience", "computation_key": "vip_users"}},
    }
    assert audience_memberships(exited) == {"vip_users": False}
    assert audience_memberships({"type": "identify", "traits": {"x": True}}) == {}
