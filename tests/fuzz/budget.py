"""How hard the fuzzers try: a bounded short form for CI, a long form from one command.

KAMELEOON_RELAY_FUZZ=long (set by `scripts/fuzz --long`) multiplies every budget (by 10).
"""

from __future__ import annotations

import os

LONG = os.environ.get("KAMELEOON_RELAY_FUZZ", "") == "long"


def examples(short: int, long: int | None = None) -> int:
    return (long or short * 10) if LONG else short
