"""`python -m tests.reliability [--long]`: the crash, fault and disk-full scenarios with
their figures as JSON (stdout, and tests/reliability/last-run.json)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tests.reliability import scenarios

SHORT = {"kills": 3, "soak_seconds": 12}
LONG = {"kills": 10, "soak_seconds": 240}
SCENARIOS = ("kills", "delivery_kills", "fault_soak", "disk_full")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long", action="store_true", help="10 kills, a 4-minute fault soak")
    parser.add_argument("--only", choices=SCENARIOS, action="append")
    args = parser.parse_args()
    budget = LONG if args.long else SHORT
    report: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with tempfile.TemporaryDirectory() as root:
        base = Path(root)
        for name, run in (
            ("kills", lambda d: scenarios.kills(d, count=budget["kills"])),
            ("delivery_kills", lambda d: scenarios.delivery_kills(d, count=budget["kills"])),
            ("fault_soak", lambda d: scenarios.fault_soak(d, seconds=budget["soak_seconds"])),
            ("disk_full", scenarios.disk_full),
        ):
            if args.only and name not in args.only:
                continue
            directory = base / name
            directory.mkdir()
            started = time.monotonic()
            report[name] = run(directory)
            report[name]["wall_seconds"] = round(time.monotonic() - started, 1)
            print(name, json.dumps(report[name]), flush=True)
    out = Path(__file__).with_name("last-run.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    lost = sum(report[n].get("lost", 0) for n in SCENARIOS if n in report)
    raise SystemExit(1 if lost else 0)


if __name__ == "__main__":
    main()
