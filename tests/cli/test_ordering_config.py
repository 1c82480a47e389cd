"""`delivery.ordering` and `delivery.hot_user_backlog`: a bad value is one line naming the
key path, from check-config and from serve alike (exit 2); the default is per_user."""

from __future__ import annotations

from pathlib import Path

import pytest

from kameleoon_relay.config import parse_config
from tests.cli.test_operator_errors import cli, config_text, errors, serve, write
from tests.helpers.processes import free_port

BAD = {
    "fifo": "delivery.ordering: must be per_user or none, not 'fifo'",
    "[per_user]": "delivery.ordering: must be per_user or none, not ['per_user']",
    "true": "delivery.ordering: must be per_user or none, not True",
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # configs name ./relay.db


def _config(tmp_path: Path, delivery: str) -> Path:
    return write(tmp_path, config_text() + f"delivery: {delivery}\n")


@pytest.mark.parametrize("value", BAD)
def test_an_unknown_ordering_is_one_line_from_check_config(tmp_path: Path, value: str) -> None:
    path = _config(tmp_path, f"{{ordering: {value}}}")
    result = cli("check-config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = errors(result)
    assert line == f"error: {path}: {BAD[value]}", line


def test_an_unknown_ordering_is_one_line_from_serve(tmp_path: Path) -> None:
    path = _config(tmp_path, "{ordering: fifo}")
    result = serve("--config", str(path), "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # nothing was served
    (line,) = result.stderr.splitlines()
    assert line == f"error: {path}: {BAD['fifo']}", line


def test_a_hot_user_backlog_below_one_is_refused(tmp_path: Path) -> None:
    result = cli("check-config", str(_config(tmp_path, "{hot_user_backlog: 0}")))
    assert result.returncode == 2
    (line,) = errors(result)
    assert line.endswith("delivery.hot_user_backlog: must be a positive integer"), line


def test_ordering_is_per_user_unless_set_to_none() -> None:
    document = {
        "sources": [{"name": "web", "write_key": "wk"}],
        "destinations": [],
        "database": "sqlite:///:memory:",
    }
    default = parse_config(document, {}).delivery
    assert default.ordering == "per_user" and default.per_user_order
    assert default.hot_user_backlog == 200
    off = parse_config({**document, "delivery": {"ordering": "none"}}, {}).delivery
    assert off.ordering == "none" and not off.per_user_order
