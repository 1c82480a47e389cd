"""`kameleoon-relay bench --smoke`: the harness runs end to end in a few seconds.

The figures of a smoke run are rough; this checks that every phase ran and wrote its
figure, not how fast the relay is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIGURES = (
    "pipeline_events_per_s",
    "node_pipeline_events_per_s",
    "ingest_events_per_s",
    "ingest_ceiling_events_per_s",
    "drain_events_per_s",
    "e2e_ceiling_events_per_s",
    "delivery_under_ingest_events_per_s",
)


def test_bench_smoke_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", "bench", "--smoke", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,  # two more relays (the far and the rate-limited drains)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    for key in FIGURES:
        assert isinstance(report[key], (int, float)) and report[key] > 0, (key, report[key])
    assert report["machine"]["cores"] and report["machine"]["cpu"]
    assert report["pipeline"]["bodies_equal"] is True
    assert report["drain"]["relay_delivered"] >= report["drain"]["events"]
    assert report["drain"]["relay_failed_or_dead"] == 0
    below = report["backlog_below_drain"]
    assert below["ingest_achieved_events_per_s"] > 0 and below["delivered_events_per_s"] > 0
    assert below["backlog_start"] >= 0 and below["backlog_end"] >= 0
    assert "machine:" in proc.stdout and "drain" in proc.stdout  # the table was printed
