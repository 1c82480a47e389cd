"""What per-user order costs the suite's drain and under-ingest windows: A/B rounds.

Each round runs the suite's drain (a queued backlog into the sink) and delivery under
ingest (paced at `--ingest` events/s) twice, with `delivery.ordering: none` and with
`per_user`, on fresh relays and databases. The bench's events are all one user's, so
`per_user` takes the hot-user escape: what it costs is the claim's check and the look
for hot users.

    .venv/bin/python bench/bench_ordering_cost.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import suite


class OrderingSuite(suite.Suite):
    """The suite, its delivering relay with `delivery.ordering` set."""

    ordering = "per_user"

    def relay_spec(
        self, name: str, phase: str, endpoint: str, delivery: dict[str, Any]
    ) -> suite.Spec:
        if name == "relay-drain":
            delivery = {**delivery, "ordering": self.ordering}
        return super().relay_spec(name, phase, endpoint, delivery)


def one_run(ordering: str, mode: str, ingest_rate: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kameleoon-bench-") as tmp:
        run = OrderingSuite(suite.MODES[mode], Path(tmp), None, lambda _: None)
        run.ordering = ordering
        try:
            run.prestart()
            run.drain()
            run.results["ingest_events_per_s"] = 2 * ingest_rate  # under_ingest takes half
            run.under_ingest()
        finally:
            run.close()
    r = run.results
    return {
        "drain_events_per_s": r["drain_events_per_s"],
        "under_ingest_events_per_s": r["delivery_under_ingest_events_per_s"],
        "under_ingest_backlog_end": r["delivery_under_ingest"]["backlog_end"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--mode", choices=["quick", "full"], default="quick")
    parser.add_argument("--ingest", type=float, default=1800.0, help="events/s while delivering")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"none": [], "per_user": []}
    for _ in range(args.rounds):
        for ordering in runs:  # alternated: drift on a shared machine hits both alike
            runs[ordering].append(one_run(ordering, args.mode, args.ingest))
            print(ordering, runs[ordering][-1], flush=True)
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
