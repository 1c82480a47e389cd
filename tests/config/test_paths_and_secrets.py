"""Issue 19 defects 9 and 10: paths relative to the config's folder; `$NAME` secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from kameleoon_relay.config import ConfigError, load_config
from tests.e2e.stack import SANDBOX_API_KEY

BASE = f"""
sources: [{{name: web, write_key: wk}}]
destinations:
  - name: kameleoon
    type: kameleoon-actions
    endpoint: http://127.0.0.1:9/segmentio
    settings: {{apiKey: {SANDBOX_API_KEY}, sitecode: demosite01}}
"""


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "relay.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ("sqlite:///./state/relay.db", "conf/state/relay.db"),
        ("sqlite:///state/relay.db?synchronous=normal", "conf/state/relay.db?synchronous=normal"),
        ("sqlite:///../elsewhere/relay.db", "elsewhere/relay.db"),
    ],
)
def test_a_relative_sqlite_path_is_relative_to_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str, expected: str
) -> None:
    config = write(tmp_path / "conf", BASE + f"database: {database}\noverlay: o.yaml\n")
    monkeypatch.chdir(tmp_path.parent)  # a working directory other than the config's folder
    loaded = load_config(config.relative_to(tmp_path.parent))
    assert loaded.database == f"sqlite:///{tmp_path / expected}"
    assert loaded.overlay is not None and loaded.overlay.resolve() == tmp_path / "conf/o.yaml"


def test_an_absolute_sqlite_path_and_memory_stay(tmp_path: Path) -> None:
    absolute = write(tmp_path, BASE + f"database: sqlite:///{tmp_path}/x.db\n")
    assert load_config(absolute).database == f"sqlite:///{tmp_path}/x.db"
    memory = write(tmp_path, BASE + "database: 'sqlite:///:memory:'\n")
    assert load_config(memory).database == "sqlite:///:memory:"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (BASE + "admin_token: $KAMELEOON_RELAY_ADMIN_TOKEN\n", "admin_token"),
        (
            BASE.replace("apiKey: " + SANDBOX_API_KEY, "apiKey: $KAMELEOON_API_KEY"),
            "destinations[0].settings.apiKey",
        ),
        (BASE.replace("write_key: wk", "write_key: $WEB_WRITE_KEY"), "sources[0].write_key"),
        (BASE + "database: postgresql://relay:$PGPASSWORD@db/relay\n", "database"),
    ],
)
def test_a_dollar_name_secret_is_refused_with_the_fix(tmp_path: Path, text: str, path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    (problem,) = [p for p in caught.value.problems if path in p]
    assert "would be taken literally" in problem
    name = problem.split("$", 1)[1].split()[0]
    assert f"write ${{{name}}}" in problem


def test_braced_variables_and_ordinary_tokens_pass(tmp_path: Path) -> None:
    config = write(tmp_path, BASE + "admin_token: ${TOKEN}\n")
    assert (
        load_config(config, env={"TOKEN": "$ecret-but-fine-too"}).admin_token
        == "$ecret-but-fine-too"
    )
    dollar_inside = write(tmp_path, BASE + "admin_token: a$b-long-enough-token\n")
    assert load_config(dollar_inside, env={}).admin_token == "a$b-long-enough-token"
