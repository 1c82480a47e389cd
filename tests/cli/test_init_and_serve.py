"""Issue 19 defects 9, 11, 13 and 14 with one real `serve`: `init` writes the embedded
default as a commented file; `check-config` takes it with no variable set; `serve -c` on it
keeps its state beside the file, shows the dashboard in its banner; `check-config` does not
warn about the mounted sandbox while it is up."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from kameleoon_relay.config import default_config, load_config
from tests.cli.test_operator_errors import cli
from tests.helpers.processes import free_port, running

NO_VARIABLES = ("KAMELEOON_API_KEY", "KAMELEOON_SITECODE", "KAMELEOON_RELAY_ADMIN_TOKEN")


def test_init_writes_the_embedded_default_and_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "relay.yaml"
    target.parent.mkdir()
    # The embedded default ran here first: init hands out the write key it keeps.
    embedded = default_config(target.parent / ".kameleoon-relay", env={})
    written = cli("init", str(target), unset=NO_VARIABLES)
    assert written.returncode == 0, written.stderr
    text = target.read_text()
    assert "apiKey: ${KAMELEOON_API_KEY}" in text  # where the credentials go, in a comment
    assert all(line.lstrip().startswith("#") for line in text.splitlines() if "${" in line)
    loaded = load_config(target, env={})
    assert loaded.sources == embedded.sources
    assert loaded.destinations == embedded.destinations
    assert loaded.database == embedded.database
    again = cli("init", str(target), unset=NO_VARIABLES)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert target.read_text() == text
    checked = cli("check-config", str(target), unset=NO_VARIABLES)
    assert checked.returncode == 0, checked.stderr
    assert "error" not in checked.stderr


def test_serve_an_init_file_from_elsewhere(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "conf"
    folder.mkdir()
    config = folder / "relay.yaml"
    assert cli("init", str(config), "--port", str(port), unset=NO_VARIABLES).returncode == 0
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {name: value for name, value in os.environ.items() if name not in NO_VARIABLES}
    before = cli("check-config", "-c", str(config), unset=NO_VARIABLES)
    assert "serve this config with --sandbox" in before.stderr  # nothing is up yet
    args = ["serve", "-c", str(config.relative_to(tmp_path)), "--sandbox"]
    with running(args, tmp_path / "serve.log", port=port, env=env, cwd=tmp_path) as server:
        log = server.log().splitlines()
        assert f"  dashboard:    http://127.0.0.1:{port}/" in log
        # Paths of the config are relative to its folder, whatever the working directory.
        assert (folder / ".kameleoon-relay" / "relay.db").exists()
        assert (folder / ".kameleoon-relay" / "sandbox.db").exists()
        assert not (tmp_path / ".kameleoon-relay").exists()
        assert httpx.get(f"{server.url}/sandbox/segmentio/getapikey").status_code != 404
        during = cli("check-config", str(config), unset=NO_VARIABLES)
        assert during.returncode == 0, during.stderr
        assert "sandbox" not in during.stderr, during.stderr


def test_the_embedded_defaults_mappings_page_points_at_init(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name not in NO_VARIABLES}
    with running(["serve"], tmp_path / "serve.log", env=env, cwd=tmp_path) as server:
        page = httpx.get(f"{server.url}/mappings", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "kameleoon-relay init relay.yaml" in page.text


def test_scripts_relay_runs_a_command_from_anywhere(tmp_path: Path) -> None:
    """Defect 14: the README says once how `kameleoon-relay` gets on PATH."""
    import subprocess

    from tests.helpers.processes import REPO

    answer = subprocess.run(
        [str(REPO / "scripts" / "relay"), "init", "here.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    assert (tmp_path / "here.yaml").exists()
    readme = (REPO / "README.md").read_text()
    assert "`.venv/bin/kameleoon-relay`" in readme and "`scripts/relay ARGS`" in readme
