"""Benchmark: our compiled FQL predicates against the reference in Node.

Both sides parse each trigger once and evaluate it on the same events; the
figure is the evaluation throughput (events x triggers a second).

    .venv/bin/python bench/bench_fql.py [--events 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

from kameleoon_relay.fql import compile_trigger

ORACLE_DIR = Path(__file__).resolve().parent.parent / "tests" / "oracle"
TRIGGERS = [
    'type = "track"',
    'type = "identify"',
    'type = "track" and event = "Order Completed"',
    '(type = "track" or type = "page") and properties.total > 20',
    'contains(context.page.url, "checkout") and properties.currency = "EUR"',
    'match(event, "Product*") and !contains(userId, "test")',
    "traits.plan != null and traits.age >= 18",
]
NODE_BENCH = """
const { parseFql, validate } = require('@segment/destination-subscriptions')
const { triggers, events, rounds } = JSON.parse(require('fs').readFileSync(0, 'utf8'))
const parsed = triggers.map(parseFql)
let matches = 0
const run = () => { for (const p of parsed) for (const e of events) if (validate(p, e)) matches++ }
run()  // warm the JIT
matches = 0
const start = process.hrtime.bigint()
for (let r = 0; r < rounds; r++) run()
const seconds = Number(process.hrtime.bigint() - start) / 1e9
console.log(JSON.stringify({ seconds, matches }))
"""


def make_events(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = ["track", "track", "track", "page", "identify", "group"]
    names = ["Order Completed", "Product Viewed", "Product Added", "Signed Up"]
    events = []
    for index in range(count):
        kind = rng.choice(kinds)
        events.append(
            {
                "type": kind,
                "event": rng.choice(names) if kind == "track" else None,
                "userId": rng.choice([f"user-{index}", f"test-{index}", None]),
                "properties": {
                    "total": rng.uniform(0, 100),
                    "currency": rng.choice(["EUR", "USD"]),
                },
                "traits": {"plan": rng.choice(["pro", None]), "age": rng.randint(10, 70)},
                "context": {"page": {"url": rng.choice(["/checkout", "/home", "/cart"])}},
            }
        )
    return events


def bench_python(events: list[dict[str, Any]], rounds: int) -> tuple[float, int]:
    predicates = [compile_trigger(trigger) for trigger in TRIGGERS]
    start = time.perf_counter()
    matches = 0
    for _ in range(rounds):
        for predicate in predicates:
            for event in events:
                matches += predicate(event)
    return time.perf_counter() - start, matches


def bench_node(events: list[dict[str, Any]], rounds: int) -> tuple[float, int]:
    payload = json.dumps({"triggers": TRIGGERS, "events": events, "rounds": rounds})
    out = subprocess.run(
        ["node", "-e", NODE_BENCH], input=payload.encode(), capture_output=True,
        cwd=ORACLE_DIR, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout)
    return result["seconds"], result["matches"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    events = make_events(args.events)
    checks = len(TRIGGERS) * len(events) * args.rounds

    started = time.perf_counter()
    for trigger in TRIGGERS:
        compile_trigger(trigger)
    compile_us = (time.perf_counter() - started) / len(TRIGGERS) * 1e6

    py_seconds, py_matches = bench_python(events, args.rounds)
    node_seconds, node_matches = bench_node(events, args.rounds)
    assert py_matches == node_matches, (py_matches, node_matches)
    print(f"triggers={len(TRIGGERS)} events={len(events)} rounds={args.rounds} checks={checks}")
    print(f"compile: {compile_us:.0f} us per trigger")
    for label, seconds in (("python", py_seconds), ("node  ", node_seconds)):
        print(f"{label}: {checks / seconds:,.0f} checks/s ({seconds * 1e9 / checks:.0f} ns each)")
    print(f"ratio python/node time: {py_seconds / node_seconds:.2f}x (matches agree: {py_matches})")


if __name__ == "__main__":
    main()
