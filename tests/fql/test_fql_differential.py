"""Differential test: our FQL engine against @segment/destination-subscriptions.

Seeded random triggers (well-formed, quirky and malformed) are evaluated on
seeded random events, all in one Node call; every answer must agree.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

from kameleoon_relay.fql import FQLEvaluationError, FQLSyntaxError, compile_trigger
from tests.helpers.oracle import run_oracle

SEED = 20240611
TRIGGERS = 1600
EVENTS_PER_TRIGGER = 4

STRINGS = [
    "track", "page", "identify", "group", "screen", "Order Completed", "Home", "a b", "",
    "5", "1.5", "-2", "0", "true", "false", "null", "abc", "xbc", "ab", "bc", "café", "😀x",
    "x😀", "Product Viewed", "analytics.js", "1e+21", "NaN", " 7 ", "0x1f",
]  # fmt: skip
KEYS = [
    "a", "b", "n", "s", "total", "arr", "obj", "flag", "nil", "name", "page", "library",
    "length", "0", "1", "x-y", "_u", "kameleoonVisitorCode", "constructor", "__proto__",
]  # fmt: skip
ODD_KEYS = ["a\\.b", "arr\\[0\\]", "Order\\ Id", "\\.", "\\[\\]", "toString", "01", "caller"]
TOP_FIELDS = ["type", "event", "name", "userId"]
ROOTS = ["properties", "traits", "context"]
STRANGE_FIELDS = [
    "properties", "traits", "propertiesX", "Type", "foo", "constructor", "toString",
    "__proto__", "type.x", "event.a", "contains", "match", "and", "null", "x",
]  # fmt: skip
OPS = ["=", "=", "=", "!=", "!=", "<", "<=", ">", ">="]
ODD_OPS = ["contains", "exists", "is_true", "not_contains", "==", "and", "(", '"x"', "5", "\\="]
NUMBERS = ["0", "5", "5", "-2", "1.5", "-0.5", "007", "+3", "2.5", "100000", "7", "3", "1e5"]
ODD_NUMBERS = ["-", "+", "1.", "1.2.3", "-.5", "5.x"]
CONJUNCTIONS = ["and", "and", "or", "or", "AND", "OR"]
MUTATION_CHARS = "()!=<>.,[]\\'\"a-_ 5\r&*\t\nx"


def _path(rng: random.Random) -> str:
    keys = [
        rng.choice(KEYS if rng.random() < 0.9 else ODD_KEYS)
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3]))
    ]
    return rng.choice(ROOTS) + "." + ".".join(keys)


def _field(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(TOP_FIELDS)
    if roll < 0.93:
        return _path(rng)
    return rng.choice(STRANGE_FIELDS)


def _string(rng: random.Random) -> str:
    text = rng.choice(STRINGS)
    if rng.random() < 0.08:
        return f"'{text}'"
    if rng.random() < 0.04:
        return f'"{text}\\"q"'  # an escaped quote: the reference has no string escapes
    return f'"{text}"'


def _value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        return _string(rng)
    if roll < 0.7:
        return rng.choice(NUMBERS if rng.random() < 0.95 else ODD_NUMBERS)
    if roll < 0.8:
        return "null"
    if roll < 0.92:
        return rng.choice(["true", "false"])
    return rng.choice(["foo", "tru\\e", "nul\\l", "eos", "(", ")", ".", "[", ","])


def _condition(rng: random.Random) -> str:
    field = _field(rng)
    op = rng.choice(OPS) if rng.random() < 0.95 else rng.choice(ODD_OPS)
    space = rng.choice([" "] * 12 + ["", "\t", "\n", "  "])
    return f"{field}{space}{op}{space}{_value(rng)}"


def _function(rng: random.Random) -> str:
    name = rng.choice(["contains", "match"])
    field = _field(rng) if rng.random() < 0.85 else rng.choice(["propertiesX.a", "foo", "5"])
    if name == "match":
        body = rng.choice(STRINGS)
        pattern = rng.choice([f'"{body}*"', f'"*{body}"', f'"{body}"', f"'{body}*'", "5"])
    else:
        pattern = _string(rng) if rng.random() < 0.85 else rng.choice(NUMBERS)
    args = f"({field}, {pattern})"
    if rng.random() < 0.06:
        args = rng.choice([f"({field})", f"({field},", "(", f"({field} {pattern})", ""])
    negate = rng.choice(["", "", "!"])
    return f"{negate}{name}{args}"


def _term(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if roll < 0.62:
        return _condition(rng)
    if roll < 0.85:
        return _function(rng)
    if depth > 0 and rng.random() < 0.85:
        return _condition(rng)
    inner = _expression(rng, depth + 1, max_terms=3)
    return rng.choice(["(", "(", "!("]) + inner + rng.choice([")", ")", ")", ""])


def _expression(rng: random.Random, depth: int = 0, max_terms: int = 4) -> str:
    parts = [_term(rng, depth)]
    for _ in range(rng.randint(0, max_terms - 1)):
        parts.append(rng.choice(CONJUNCTIONS))
        parts.append(_term(rng, depth))
    return " ".join(parts)


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 2)):
        index = rng.randrange(len(text) + 1)
        roll = rng.random()
        if roll < 0.35:
            text = text[:index] + text[index + 1 :]
        elif roll < 0.8:
            text = text[:index] + rng.choice(MUTATION_CHARS) + text[index:]
        else:
            text = text[:index]
    return text


def random_trigger(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.03:
        return rng.choice(["", " ", "()", "an", "type", "type =", "!", "and", "a.b.c", "x = 1"])
    text = _expression(rng)
    return _mutate(rng, text) if roll < 0.2 else text


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(STRINGS)
    if roll < 0.6:
        return rng.choice([0, 5, 5, -2, 1.5, -0.5, 7, 3, 100000, 2.5, 1e21, 1e300, 2**64, 0.1])
    if roll < 0.72:
        return rng.choice([True, False])
    if roll < 0.8:
        return None
    if roll < 0.9 or depth > 1:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return _json_object(rng, depth + 1)


def _json_object(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    keys = rng.sample([*KEYS[:18], "a.b", "arr[0]", "Order Id"], rng.randint(0, 6))
    return {key: _json_value(rng, depth) for key in keys}


def random_event(rng: random.Random) -> dict[str, Any]:
    event: dict[str, Any] = {}
    kind = rng.choice(["track", "page", "identify", "group", "screen", "Track", None])
    if kind is not None:
        event["type"] = kind
    for field in ("event", "name", "userId"):
        roll = rng.random()
        if roll < 0.5:
            event[field] = rng.choice(STRINGS)
        elif roll < 0.65:
            event[field] = rng.choice([5, None, True, 1.5, "123", 123, 1e23])
    for root in ROOTS:
        roll = rng.random()
        if roll < 0.8:
            event[root] = _json_object(rng)
        elif roll < 0.9:
            event[root] = rng.choice(["abc", [1, "x"], None, 0, 5, True, ""])
    return event


_MENTION = re.compile(
    r"(type|event|name|userId|properties|traits|context)((?:\.[\w-]+)*)\s*"
    r"(?:[=<>!]+\s*|, )(\"[^\"]*\"|-?[\d.]+|true|false|null)"
)


def _literal(rng: random.Random, text: str) -> Any:
    if text.startswith('"'):
        return text.strip('"*')
    if text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and rng.random() < 0.5 else number


def steer(rng: random.Random, trigger: str, event: dict[str, Any]) -> dict[str, Any]:
    """Give fields the trigger mentions the values it compares with, so it often matches."""
    for found in _MENTION.finditer(trigger):
        if rng.random() < 0.3:
            continue
        root, path, value = found.group(1), found.group(2), _literal(rng, found.group(3))
        keys = [key for key in path.split(".") if key]
        if not keys or root in TOP_FIELDS:
            event[root] = value
            continue
        target = event.get(root)
        if not isinstance(target, dict):
            target = event[root] = {}
        for key in keys[:-1]:
            target = target.setdefault(key, {}) if isinstance(target.get(key), dict) else None
            if target is None:
                break
        if target is not None:
            target[keys[-1]] = value
    return event


def _ours(trigger: str, event: dict[str, Any]) -> tuple[bool, bool | None]:
    try:
        predicate = compile_trigger(trigger)
    except FQLSyntaxError:
        return False, None
    try:
        return True, predicate(event)
    except FQLEvaluationError:
        return True, None


def test_matches_reference_on_random_triggers_and_events() -> None:
    rng = random.Random(SEED)
    cases = []
    for _ in range(TRIGGERS):
        trigger = random_trigger(rng)
        cases.extend(
            {"trigger": trigger, "event": steer(rng, trigger, random_event(rng))}
            for _ in range(EVENTS_PER_TRIGGER)
        )
    assert len(cases) >= 5000
    expected = run_oracle("fql_oracle.js", cases)

    outcomes = _assert_agreement(cases, expected)
    # The cases must exercise every outcome, or agreement proves little.
    assert outcomes["rejected"] > 0.05 * len(cases), outcomes
    assert outcomes["True"] > 0.15 * len(cases), outcomes
    assert outcomes["False"] > 0.3 * len(cases), outcomes
    assert outcomes["throws"] > 0, outcomes


def _assert_agreement(cases: list[dict], expected: list[dict]) -> Counter[str]:
    """Every case must agree with the reference; returns how the outcomes were spread."""
    outcomes: Counter[str] = Counter()
    mismatches = []
    for case, ref in zip(cases, expected, strict=True):
        parsed, match = _ours(case["trigger"], case["event"])
        outcomes["rejected" if not parsed else "throws" if match is None else str(match)] += 1
        if (parsed, match) != (ref["parsed"], ref["match"]):
            mismatches.append((case["trigger"], case["event"], (parsed, match), ref))
    assert not mismatches, f"{len(mismatches)} disagreements, first: {mismatches[:5]}"
    return outcomes


SOUP_WORDS = [
    "type", "event", "name", "userId", "properties.a", "properties.s", "traits.n", "context.b",
    "properties", "contains", "match", "=", "!=", "<", ">=", '"track"', '"a*"', '"*c"', "'x'",
    "5", "-1.5", "null", "true", "false", "(", ")", "and", "or", "AND", ",", "!", "\\=", "[",
    "]", ".", "constructor", "foo", "an", "n", "-", '"', "eos",
]  # fmt: skip
SOUP_CHARS = "andortypesvcx.()[],!=<>\"'\\_-+015 \t\n*&😀"


def random_soup(rng: random.Random) -> str:
    """Token soup or character soup: stresses the lexer and the token walk."""
    if rng.random() < 0.8:
        words = rng.choices(SOUP_WORDS, k=rng.randint(1, 12))
        return "".join(word + rng.choice([" "] * 8 + [""]) for word in words)
    return "".join(rng.choices(SOUP_CHARS, k=rng.randint(1, 24)))


def test_matches_reference_on_token_and_character_soup() -> None:
    rng = random.Random(SEED + 1)
    cases = []
    for _ in range(2500):
        trigger = random_soup(rng)
        cases.append({"trigger": trigger, "event": steer(rng, trigger, random_event(rng))})
    expected = run_oracle("fql_oracle.js", cases)

    outcomes = _assert_agreement(cases, expected)
    assert outcomes["rejected"] > 0.2 * len(cases), outcomes
    assert outcomes["True"] > 0, outcomes
    assert outcomes["False"] > 0.1 * len(cases), outcomes
