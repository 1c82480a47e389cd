"""The crash, fault and disk-full suite in its short form (CI, about a minute and a
half). The long form: `scripts/soak` (figures in docs/RELIABILITY.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kameleoon_relay.delivery.dispatcher import CLAIM_BATCH
from tests.reliability import scenarios


def test_sigkilled_relay_loses_no_acknowledged_event(tmp_path: Path) -> None:
    figures = scenarios.kills(tmp_path, count=3)
    assert figures["kills"] == 3
    assert figures["acknowledged"] > 0
    assert figures["statuses"].get("transport error", 0) > 0  # the kills hit the load
    assert figures["lost"] == 0, figures


def test_sigkilled_relay_on_postgres_gives_back_its_work_at_restart(
    tmp_path: Path, pg_url: str
) -> None:
    # The lease is 10 minutes and the drain check 2: what the killed relays held came
    # back when the next one started.
    figures = scenarios.kills(tmp_path, count=3, database=pg_url)
    assert figures["kills"] == 3
    assert figures["statuses"].get("transport error", 0) > 0  # the kills hit the load
    assert figures["lost"] == 0, figures


def test_a_fault_soak_loses_no_acknowledged_event(tmp_path: Path) -> None:
    figures = scenarios.fault_soak(tmp_path, seconds=12)
    assert figures["acknowledged"] > 0
    assert all(count > 0 for count in figures["faults_injected"].values()), figures
    assert figures["lost"] == 0, figures


def test_a_full_disk_answers_503_and_every_200_was_stored(tmp_path: Path) -> None:
    figures = scenarios.disk_full(tmp_path)
    if "skipped" in figures:
        pytest.skip(figures["skipped"])
    while_full = figures["statuses_while_full"]
    assert while_full.get("503", 0) > 0, figures  # the disk did fill
    assert set(while_full) <= {"200", "503"}, figures  # no 500, nothing else
    assert figures["lost"] == 0, figures  # each 200 was really stored


def check_delivery_kills(figures: dict) -> None:
    assert figures["restarts_logged"] == figures["kills"] == 3, figures
    assert figures["acknowledged"] > 0
    assert figures["lost"] == 0, figures  # acknowledged = delivered
    # Sent again only what the killed process held: at most what was in flight then
    # (sampled just before each kill, plus one claim buffer each for the moment between).
    bound = sum(figures["in_flight_at_kills"]) + figures["kills"] * CLAIM_BATCH
    assert figures["duplicates"] <= bound, figures
    assert max(figures["resumed_seconds"]) <= 10, figures  # not the 10-minute lease


def test_a_killed_delivery_process_loses_nothing_and_resumes_sqlite(tmp_path: Path) -> None:
    check_delivery_kills(scenarios.delivery_kills(tmp_path, count=3))


def test_a_killed_delivery_process_loses_nothing_and_resumes_postgres(
    tmp_path: Path, pg_url: str
) -> None:
    check_delivery_kills(scenarios.delivery_kills(tmp_path, count=3, database=pg_url))


def test_a_full_disk_recovers_without_a_restart(tmp_path: Path) -> None:
    figures = scenarios.disk_full_recovery(tmp_path)
    if "skipped" in figures:
        pytest.skip(figures["skipped"])
    assert figures["statuses_while_full"].get("503", 0) > 0, figures  # it did fill
    # Reads do not depend on the writer: no 500 while full.
    assert all(key.endswith(" 200") for key in figures["reads_while_full"]), figures
    # Steady: every probe said so, with the reason.
    assert figures["health_while_full"] == [[503, ["disk full"]]] * 10, figures
    # Space back: no restart, no lease waited (10 minutes), nothing lost.
    assert figures["lost"] == 0, figures
    assert figures["ingest_after"] == 200 and figures["healthy_after"], figures
    assert figures["restarts"] == 0, figures
    # One line per kind of failure, rate-limited, in every process: no traceback flood.
    assert figures["tracebacks_logged"] <= 2, figures


def test_serve_on_a_full_disk_says_so_in_one_line(tmp_path: Path) -> None:
    figures = scenarios.full_disk_start(tmp_path)
    if "skipped" in figures:
        pytest.skip(figures["skipped"])
    assert figures["exit"] == 2, figures
    assert "Traceback" not in figures["stderr"], figures
    [line] = figures["stderr"].strip().splitlines()
    assert line.startswith("error: the disk holding the SQLite store") and "full" in line
