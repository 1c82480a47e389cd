"""The adaptive delivery keys: defaults, and one line naming the key path for a bad value
from check-config and from serve (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kameleoon_relay.config import load_config
from kameleoon_relay.config.model import DeliverySettings
from tests.cli.test_operator_errors import cli, config_text, errors, serve, write


def test_defaults_are_adaptive_and_unlimited() -> None:
    settings = DeliverySettings()
    assert settings.concurrency == "adaptive" and settings.adaptive
    assert settings.starting_concurrency == 16 and settings.concurrency_bound == 1000
    assert settings.rate_limit is None


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        ("{concurrency: adaptive, initial_concurrency: 4, max_concurrency: 64}", (4, 64, None)),
        ("{concurrency: 12}", (12, 12, None)),
        ("{rate_limit: 200/s}", (16, 1000, 200.0)),
        ("{rate_limit: 600/min}", (16, 1000, 10.0)),
    ],
)
def test_good_values(tmp_path: Path, delivery: str, expected: tuple) -> None:
    path = write(tmp_path, config_text() + f"delivery: {delivery}\n")
    settings = load_config(path).delivery
    got = (settings.starting_concurrency, settings.concurrency_bound, settings.rate_limit)
    assert got == expected


BAD = [
    ("{concurrency: 0}", 'delivery.concurrency: must be "adaptive" or a positive integer'),
    ("{concurrency: fast}", 'delivery.concurrency: must be "adaptive" or a positive integer'),
    (
        "{initial_concurrency: 50, max_concurrency: 10}",
        "delivery.max_concurrency: must be at least delivery.initial_concurrency (50), got 10",
    ),
    ("{rate_limit: abc/s}", "delivery.rate_limit: 'abc/s' is not a rate such as 200/s"),
    ("{rate_limit: 0/s}", "delivery.rate_limit: '0/s' is not a rate such as 200/s"),
]


@pytest.mark.parametrize(("delivery", "problem"), BAD)
def test_check_config_names_the_key_in_one_line(
    tmp_path: Path, delivery: str, problem: str
) -> None:
    path = write(tmp_path, config_text() + f"delivery: {delivery}\n")
    result = cli("check-config", str(path))
    assert result.returncode == 2
    lines = errors(result)
    assert len(lines) == 1 and problem in lines[0], result.stderr


def test_serve_refuses_the_same_in_one_line(tmp_path: Path) -> None:
    delivery, problem = BAD[2]
    path = write(tmp_path, config_text() + f"delivery: {delivery}\n")
    result = serve("--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    lines = errors(result)
    assert len(lines) == 1 and problem in lines[0], result.stderr
