"""Per-event work of the Track Calls path, ours against the reference, side by side.

Measures, in one run on this machine: our compiled pipeline (the four preset
triggers, the logEvent mapping, payload validation and the request body bytes)
on a realistic track event with a full `context`; the same through Segment's
own packages in Node (bench_reference.js, fetch replaced by an in-memory 200);
and a do-nothing loop in each language as the baseline.

    .venv/bin/python bench/bench_engine.py [--iterations 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import orjson
from machine import describe

from kameleoon_relay.config import parse_config
from kameleoon_relay.ingest import as_js_value
from kameleoon_relay.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
EVENT_FILE = HERE / "realistic_event.json"


def pipeline() -> Pipeline:
    """The Kameleoon (Actions) presets, as the reference runs them."""
    config = parse_config(
        {
            "sources": [{"name": "web", "write_key": "k"}],
            "destinations": [
                {
                    "name": "kameleoon",
                    "type": "kameleoon-actions",
                    "settings": {"apiKey": "ZGVtbw==", "sitecode": "demosite01"},
                }
            ],
        }
    )
    return Pipeline(config)


def our_body() -> bytes:
    """The request body our pipeline builds for the benchmark's event."""
    event = as_js_value(orjson.loads(EVENT_FILE.read_bytes()))
    request = pipeline().plan(event, "web")[0].request
    assert request is not None
    return request.body


def ours(iterations: int) -> tuple[float, float]:
    event = as_js_value(orjson.loads(EVENT_FILE.read_bytes()))
    plan = pipeline().plan
    assert plan(event, "web")[0].request is not None
    for _ in range(min(iterations, 2000)):
        plan(event, "web")
    start = time.perf_counter()
    for _ in range(iterations):
        plan(event, "web")
    elapsed = time.perf_counter() - start

    def nothing(event: dict, source: str) -> None:
        return None

    start = time.perf_counter()
    for _ in range(iterations):
        nothing(event, "web")
    return elapsed, time.perf_counter() - start


def reference_run(iterations: int) -> dict:
    """bench_reference.js's JSON: seconds, coreSeconds, baselineSeconds, coreBody, ..."""
    output = subprocess.run(
        ["node", str(HERE / "bench_reference.js"), str(EVENT_FILE), str(iterations)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(output)
    assert result["bodies"] == result["coreBodies"] == iterations, result
    return result


def reference(iterations: int) -> tuple[float, float, float]:
    result = reference_run(iterations)
    return result["seconds"], result["coreSeconds"], result["baselineSeconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(describe())
    print(
        "reference = executeAction with fetch stubbed; ref core = the same steps "
        "called directly, without actions-core's request client"
    )
    print(
        f"{'round':>5} {'ours ev/s':>11} {'reference':>10} {'ratio':>7} {'ref core':>9} "
        f"{'ratio':>7} {'py no-op':>12} {'node no-op':>11}"
    )
    ratios: list[float] = []
    core_ratios: list[float] = []
    for round_number in range(1, args.rounds + 1):
        ours_s, ours_base = ours(args.iterations)
        ref_s, core_s, ref_base = reference(args.iterations)
        ratios.append(ref_s / ours_s)
        core_ratios.append(core_s / ours_s)
        n = args.iterations
        print(
            f"{round_number:>5} {n / ours_s:>11,.0f} {n / ref_s:>10,.0f} {ratios[-1]:>6.2f}x "
            f"{n / core_s:>9,.0f} {core_ratios[-1]:>6.2f}x "
            f"{n / ours_base:>12,.0f} {n / ref_base:>11,.0f}"
        )
    ratios.sort()
    core_ratios.sort()
    print(f"median ratio, ours / reference:      {ratios[len(ratios) // 2]:.2f}x")
    print(f"median ratio, ours / reference core: {core_ratios[len(core_ratios) // 2]:.2f}x")


if __name__ == "__main__":
    main()
