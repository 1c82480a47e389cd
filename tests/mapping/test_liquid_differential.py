"""CI run of the @liquid differential check (tests/mapping/liquid_differential.py).

A fixed seed; the larger random-seed run is a command in that module's docstring.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.helpers.oracle import run_oracle
from tests.mapping.liquid_differential import (
    DISABLED_FILTERS,
    DISABLED_TAGS,
    ENABLED_FILTERS,
    ENABLED_TAGS,
    disagreements,
    make_cases,
)

SEED = 20240611
TEMPLATES = 1700
EVENTS_PER_TEMPLATE = 3


@pytest.fixture(scope="module")
def compared() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cases = make_cases(SEED, TEMPLATES, EVENTS_PER_TEMPLATE)
    return cases, run_oracle("liquid_oracle.js", cases)


def _uses_filter(template: str, name: str) -> bool:
    return re.search(rf"\|\s*{name}\b", template) is not None


def _uses_tag(template: str, name: str) -> bool:
    if name == "#":
        return re.search(r"\{%-?\s*#", template) is not None
    return re.search(rf"(\{{%-?|\n)\s*{name}\b", template) is not None


def test_cover_every_filter_and_tag_and_both_outcomes(compared: Any) -> None:
    cases, refs = compared
    assert len(cases) >= 5000
    rendered = [c["template"] for c, r in zip(cases, refs, strict=True) if "error" not in r]
    failed = [c["template"] for c, r in zip(cases, refs, strict=True) if "error" in r]
    assert 0.6 * len(cases) < len(rendered) < 0.95 * len(cases)
    for name in ENABLED_FILTERS:
        assert sum(_uses_filter(t, name) for t in rendered) >= 10, name
    for name in ENABLED_TAGS:
        assert sum(_uses_tag(t, name) for t in rendered) >= 10, name
    for name in DISABLED_FILTERS[:5]:
        assert any(_uses_filter(t, name) for t in failed), name
    for name in DISABLED_TAGS:
        assert any(_uses_tag(t, name) for t in failed), name
    assert any(len(t) > 1000 for t in failed)
    assert any("date" in t and "now" in t for t in rendered)


def test_outcomes_agree_with_the_reference(compared: Any) -> None:
    cases, refs = compared
    bad = disagreements(cases, refs)
    assert not bad, bad[:3]
