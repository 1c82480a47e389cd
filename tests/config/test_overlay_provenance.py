"""Issue 19 defect 7: which file each destination's subscriptions come from, and a warning
when the overlay overrides config subscriptions that changed since it was saved."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import yaml

from kameleoon_relay.config import load_config
from kameleoon_relay.config.overlay import write_overlay
from tests.cli.test_operator_errors import cli
from tests.helpers.processes import running

KEY = "eyJpZCI6ImRlbW8iLCJzZWNyZXQiOiJkZW1vIn0="
MINE = {"name": "Mine", "trigger": 'type = "track"', "action": "logEvent", "mapping": None}


def config_file(directory: Path, subscriptions: list | None = None) -> Path:
    destination = {
        "name": "k",
        "type": "kameleoon-actions",
        "endpoint": "http://127.0.0.1:9/segmentio",
        "settings": {"apiKey": KEY, "sitecode": "1q2w3e4r5t"},
    }
    if subscriptions is not None:
        destination["subscriptions"] = subscriptions
    document = {
        "sources": [{"name": "web", "write_key": "wk"}],
        "destinations": [destination],
        "database": "sqlite:///relay.db",
        "overlay": "relay.overlay.yaml",
    }
    path = directory / "relay.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_provenance_and_the_stale_overlay_warning(tmp_path: Path) -> None:
    config_path = config_file(tmp_path)
    overlay = tmp_path / "relay.overlay.yaml"
    before = load_config(config_path)
    assert before.subscriptions_from == {"k": str(config_path)}
    assert before.overlay_warnings == ()
    # Saved as the dashboard saves: with the fingerprint of the config's subscriptions.
    write_overlay(overlay, {"k": [MINE]}, before.config_fingerprints)
    saved = load_config(config_path)
    assert saved.subscriptions_from == {"k": str(overlay)}
    assert [s.name for s in saved.destination("k").subscriptions] == ["Mine"]
    assert saved.overlay_warnings == ()
    # The config's subscriptions change later: the overlay still wins, and says so.
    config_file(tmp_path, [{**MINE, "name": "Edited in the config"}])
    stale = load_config(config_path)
    assert [s.name for s in stale.destination("k").subscriptions] == ["Mine"]
    (warning,) = stale.overlay_warnings
    assert warning.startswith(f"{overlay}: overrides the subscriptions of destination 'k'")
    assert "changed in" in warning and str(config_path) in warning

    checked = cli("check-config", str(config_path))
    assert checked.returncode == 0, checked.stderr
    assert f"    subscriptions from: {overlay}" in checked.stdout
    assert f"warning: {warning}" in checked.stderr

    env = {n: v for n, v in os.environ.items() if n != "KAMELEOON_RELAY_ADMIN_TOKEN"}
    with running(["serve", "-c", str(config_path)], tmp_path / "serve.log", env=env) as server:
        assert f"warning: {warning}" in server.log()
        page = httpx.get(f"{server.url}/mappings", headers={"accept": "text/html"}).text
    assert f"From <code>{overlay}</code>" in page


def test_an_overlay_without_a_fingerprint_gives_no_warning(tmp_path: Path) -> None:
    config_path = config_file(tmp_path, [MINE])
    write_overlay(tmp_path / "relay.overlay.yaml", {"k": [MINE]})  # an older overlay
    loaded = load_config(config_path)
    assert loaded.overlay_warnings == ()
    assert loaded.subscriptions_from == {"k": str(tmp_path / "relay.overlay.yaml")}
