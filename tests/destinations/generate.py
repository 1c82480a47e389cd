"""Seeded generators of Segment events and action mappings for the differential tests."""

from __future__ import annotations

import random
from typing import Any

from tests.helpers.generated import DEEP, NUMBER_SPELLINGS

WORDS = ["Order Completed", "Signed Up", "Product Viewed", "home", "Checkout", "ä ü 🎉", "", " "]
KEYS = [
    "revenue",
    "currency",
    "plan",
    "email",
    "kameleoonVisitorCode",
    "k_visitorCode",
    "2",
    "10",
    "name",
    "nested",
    "list",
    "a.b",
    # Names every object inherits: JavaScript reads them through the prototype, and
    # never copies a `__proto__` key (Segment forwards none).
    "__proto__",
    "constructor",
    "toString",
    "valueOf",
    "hasOwnProperty",
]
TIMESTAMPS = [
    "2024-05-01T12:00:00.000Z",
    "2024-05-01T12:00:00Z",
    "2024-05-01T12:00:00+02:00",
    "2024-05-01 12:00:00Z",
    "2024-02-30T12:00:00Z",
    "2024-05-01T12:00:00",
    "2024-05-01",
    "yesterday",
    "2024-05-01t23:59:60z",
    "2023-02-29T00:00:00Z",
    "2024-02-29T00:00:00.123456-0130",
]


def scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            rng.choice(WORDS),
            rng.randint(-1000, 10**6),
            rng.random() * 1000,
            0,
            1.5,
            10.0,
            -0.0,
            True,
            False,
            None,
            2**60,
            1e-7,
            12345678901234567890,
        ]
    )


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 2 and roll < 0.15:
        return {rng.choice(KEYS): value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if depth < 2 and roll < 0.25:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return scalar(rng)


def bag(rng: random.Random, with_code: float = 0.4) -> dict[str, Any]:
    out = {rng.choice(KEYS): value(rng) for _ in range(rng.randint(0, 5))}
    if rng.random() < with_code:
        out["kameleoonVisitorCode"] = rng.choice(["oa16i4syt2ve3b0z", 123, "", None, ["x"]])
    return out


def context(rng: random.Random) -> dict[str, Any]:
    return {
        "ip": "203.0.113.7",
        "library": {"name": "analytics.js", "version": "next-1.70.0"},
        "page": {
            "path": "/cart",
            "url": "https://shop.example/cart",
            "title": "Cart",
            "referrer": "",
            "search": "?q=1",
        },
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
        "locale": "en-US",
        "campaign": {"name": "black-friday", "source": "newsletter"},
        "traits": bag(rng, 0.1),
    }


def event(rng: random.Random, kind: str | None = None) -> dict[str, Any]:
    kind = kind or rng.choice(["track", "track", "page", "identify", "group", "screen", "alias"])
    out: dict[str, Any] = {"type": kind}
    maybe = rng.random
    if maybe() < 0.8:
        out["userId"] = rng.choice(["user-1", "u 2", 42, "", None])
    if maybe() < 0.7:
        out["anonymousId"] = rng.choice(["anon-9", "b1c2", "", None])
    if kind == "track" and maybe() < 0.9:
        out["event"] = rng.choice([*WORDS, 7, None])
    if kind in ("page", "screen", "track") and maybe() < 0.5:
        out["name"] = rng.choice([*WORDS, None, 3])
    if kind == "group" and maybe() < 0.85:
        out["groupId"] = rng.choice(["acme", 42, 4.5, "", None, True, ["g"], {"id": 1}])
    if kind in ("identify", "group", "track") and maybe() < 0.6:
        out["traits"] = bag(rng) if maybe() < 0.9 else rng.choice(["str", [1], None, 5])
    if kind != "identify" and maybe() < 0.75:
        out["properties"] = bag(rng) if maybe() < 0.9 else rng.choice(["str", [{"a": 1}], None, 5])
    if maybe() < 0.85:
        out["timestamp"] = rng.choice(TIMESTAMPS) if maybe() < 0.4 else TIMESTAMPS[0]
    if maybe() < 0.9:
        out["messageId"] = rng.choice(["msg-1", "ajs-next-1700000000-abc", 5, ""])
    if maybe() < 0.7:
        out["context"] = context(rng) if maybe() < 0.9 else rng.choice(["ctx", None, [1]])
    if maybe() < 0.03:  # JSON.parse keeps it as a key; no copy Segment makes forwards it
        out["__proto__"] = rng.choice([None, "s", 1, {"context": {"a": 1}}, {"toString": 1}])
    rng.shuffle(keys := list(out))
    return {key: out[key] for key in keys}


PATHS = [
    "$.userId",
    "$.anonymousId",
    "$.event",
    "$.name",
    "$.type",
    "$.properties",
    "$.traits",
    "$.context",
    "$.timestamp",
    "$.messageId",
    "$.groupId",
    "$.properties.revenue",
    "$.properties.kameleoonVisitorCode",
    "$.context.page",
    "$.traits.kameleoonVisitorCode",
    "$.missing",
    "$.context.ip",
    "$.event[4]",  # half of the emoji in "ä ü 🎉": a lone UTF-16 surrogate
    "$.name[5]",
    "$.properties.constructor",
    "$.properties.__proto__",
    "$.traits.toString",
    "$.context.page.valueOf",
    "$.event.constructor",
    "$.properties.revenue.toFixed",
    "$.properties.__proto__.nested",
]


def deep_text(rng: random.Random) -> str:
    """A JSON text nested as deep as the reference still maps."""
    levels = rng.choice(DEEP)
    if rng.random() < 0.5:
        return "[" * levels + "1e2" + "]" * levels
    return '{"a":' * levels + "-0.0" + "}" * levels


def mapping_value(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.08:
        # JSON.parse's numbers reach Kameleoon as V8 writes them.
        decoded = {"@json": {"mode": "decode", "value": rng.choice(NUMBER_SPELLINGS)}}
        return decoded if rng.random() < 0.7 else {"n": decoded, "list": [decoded]}
    if roll < 0.09:
        return {"@json": {"mode": "decode", "value": deep_text(rng)}}
    roll = rng.random()
    if roll < 0.5:
        return {"@path": rng.choice(PATHS)}
    if roll < 0.6:
        return {
            "@template": rng.choice(
                [
                    "{{userId}}",
                    "{{properties.revenue}} {{event}}",
                    "x",
                    "{{properties.constructor}}|{{properties.__proto__}}|{{event.toString}}",
                ]
            )
        }
    if roll < 0.75:
        return {
            "@if": {
                "exists": {"@path": rng.choice(PATHS)},
                "then": {"@path": rng.choice(PATHS)},
                "else": scalar(rng),
            }
        }
    if roll < 0.85:
        return {"revenue": {"@path": "$.properties.revenue"}, "plan": scalar(rng)}
    return scalar(rng)


def custom_mapping(rng: random.Random, fields: list[str]) -> dict[str, Any]:
    """Mostly the default shape with a few fields remapped, dropped or added."""
    mapping: dict[str, Any] = {field: {"@path": f"$.{field}"} for field in fields}
    for field in rng.sample(fields, rng.randint(1, 3)):
        if rng.random() < 0.2:
            del mapping[field]
        else:
            mapping[field] = mapping_value(rng)
    if rng.random() < 0.3:
        mapping["notAField"] = mapping_value(rng)
    return mapping
