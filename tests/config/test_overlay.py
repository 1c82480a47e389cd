"""The overlay file: the dashboard's subscriptions replace the config's, validated alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kameleoon_relay.config import ConfigError, load_config
from kameleoon_relay.config.overlay import read_overlay, write_overlay

KEY = "eyJpZCI6ImRlbW8iLCJzZWNyZXQiOiJkZW1vIn0="


def config_file(directory: Path, overlay: str | None = "relay.overlay.yaml") -> Path:
    document = {
        "sources": [{"name": "web", "write_key": "wk"}],
        "destinations": [
            {
                "name": "k",
                "type": "kameleoon-actions",
                "settings": {"apiKey": KEY, "sitecode": "1q2w3e4r5t"},
            },
        ],
    }
    if overlay:
        document["overlay"] = overlay
    path = directory / "relay.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_no_overlay_file_yet_means_the_presets(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path))
    assert config.overlay == tmp_path / "relay.overlay.yaml"
    assert next(s.name for s in config.destination("k").subscriptions) == "Track Calls"


def test_overlay_subscriptions_replace_the_config_s(tmp_path: Path) -> None:
    path = config_file(tmp_path)
    subs = [{"name": "Orders", "trigger": 'event = "Order"', "action": "logEvent",
             "mapping": None, "enabled": True}]  # fmt: skip
    write_overlay(tmp_path / "relay.overlay.yaml", {"k": subs})
    assert read_overlay(tmp_path / "relay.overlay.yaml") == {"k": subs}
    assert KEY not in (tmp_path / "relay.overlay.yaml").read_text()
    config = load_config(path)
    assert [(s.name, s.trigger) for s in config.destination("k").subscriptions] == [
        ("Orders", 'event = "Order"')
    ]


def test_a_bad_overlay_is_a_config_error(tmp_path: Path) -> None:
    path = config_file(tmp_path)
    overlay = tmp_path / "relay.overlay.yaml"
    write_overlay(overlay, {"k": [{"name": "Bad", "trigger": "(", "action": "logEvent"}]})
    with pytest.raises(ConfigError, match=r"subscriptions\[0\]\.trigger"):
        load_config(path)
    write_overlay(overlay, {"gone": []})
    with pytest.raises(ConfigError, match="unknown destination"):
        load_config(path)
    too_many = [{"name": f"S{n}", "trigger": 'type = "track"', "action": "logEvent"}
                for n in range(51)]  # fmt: skip
    write_overlay(overlay, {"k": too_many})
    with pytest.raises(ConfigError, match="at most 50"):
        load_config(path)


def test_without_the_key_nothing_is_read(tmp_path: Path) -> None:
    path = config_file(tmp_path, overlay=None)
    (tmp_path / "relay.overlay.yaml").write_text("not: [valid")
    assert load_config(path).overlay is None
