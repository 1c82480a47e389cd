"""Issue 22: the admin surface's keys. `admin_token` shorter than 16 characters is refused
at load, naming the key and never echoing the token; `allowed_hosts` lists host names."""

from __future__ import annotations

from pathlib import Path

import pytest

from kameleoon_relay.config import ConfigError, load_config
from tests.config.test_config import ENV, VALID, write


@pytest.mark.parametrize("token", ["a", "fifteen-chars-x"])
def test_a_short_admin_token_is_refused_naming_the_key(tmp_path: Path, token: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, VALID + f"admin_token: {token}\n"), ENV)
    (problem,) = raised.value.problems
    message = problem.split("relay.yaml: ", 1)[1]
    assert message.startswith("admin_token: must be at least 16 characters")
    assert f"(it has {len(token)})" in message
    assert f" {token} " not in f" {message} "


def test_a_short_token_from_the_environment_is_refused_too(tmp_path: Path) -> None:
    env = {**ENV, "KAMELEOON_RELAY_ADMIN_TOKEN": "short"}
    with pytest.raises(ConfigError, match="admin_token: must be at least 16"):
        load_config(write(tmp_path, VALID), env)


def test_a_sixteen_character_token_is_taken(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID + "admin_token: sixteen-chars-xy\n"), ENV)
    assert config.admin_token == "sixteen-chars-xy"


def test_allowed_hosts_are_host_names(tmp_path: Path) -> None:
    text = VALID + "allowed_hosts: [Relay.Example.com, 10.0.0.5, '[fd00::5]']\n"
    config = load_config(write(tmp_path, text), ENV)
    assert config.allowed_hosts == ("relay.example.com", "10.0.0.5", "[fd00::5]")
    assert load_config(write(tmp_path, VALID), ENV).allowed_hosts == ()


def test_allowed_hosts_with_a_scheme_or_port_are_refused(tmp_path: Path) -> None:
    text = VALID + "allowed_hosts: ['https://relay.example.com', 'relay:8080', 7]\n"
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text), ENV)
    problems = raised.value.problems
    assert [p.split(": ")[1] for p in problems] == [
        "allowed_hosts[0]",
        "allowed_hosts[1]",
        "allowed_hosts[2]",
    ]
    with pytest.raises(ConfigError, match="allowed_hosts: must be a list"):
        load_config(write(tmp_path, VALID + "allowed_hosts: relay.example.com\n"), ENV)
