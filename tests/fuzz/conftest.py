"""Counts the inputs each fuzz class tried; KAMELEOON_RELAY_FUZZ_REPORT names a JSON file
to write them to (scripts/soak does, for docs/RELIABILITY.md)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

TRIED: Counter[str] = Counter()


def pytest_sessionfinish(session, exitstatus) -> None:
    target = os.environ.get("KAMELEOON_RELAY_FUZZ_REPORT")
    if target and TRIED:
        Path(target).write_text(json.dumps(dict(sorted(TRIED.items())), indent=2) + "\n")
