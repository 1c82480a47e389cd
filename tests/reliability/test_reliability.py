"""The crash, fault and disk-full suite in its short form (CI, about a minute and a
half). The long form: `scripts/soak` (figures in docs/RELIABILITY.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import scenarios


def test_sigkilled_relay_loses_no_acknowledged_event(tmp_path: Path) -> None:
    figures = scenarios.kills(tmp_path, count=3)
    assert figures["kills"] == 3
    assert figures["acknowledged"] > 0
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
