"""The documented embedding API: load a config, preview, and send one event in-process."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx

import kameleoon_relay
from kameleoon_relay import Pipeline, load_config, normalize_event, send_event
from tests.helpers.processes import running

API_KEY = base64.b64encode(b'{"id":"demo","secret":"demo"}').decode()


def test_preview_and_send_against_the_sandbox(tmp_path: Path) -> None:
    with running(["sandbox"], tmp_path / "sandbox.log") as sandbox:
        config_file = tmp_path / "relay.yaml"
        config_file.write_text(
            "sources: [{name: web, write_key: wk}]\n"
            "destinations:\n"
            "  - name: kameleoon\n"
            "    type: kameleoon-actions\n"
            f"    endpoint: {sandbox.url}/segmentio\n"
            f"    settings: {{apiKey: '{API_KEY}', sitecode: demosite01}}\n"
        )
        pipeline = Pipeline(load_config(config_file))
        event = normalize_event(
            {
                "type": "track",
                "event": "Signed Up",
                "userId": "u1",
                "properties": {"kameleoonVisitorCode": "vc-api"},
            }
        )
        preview = pipeline.preview(event)
        (delivery,) = preview["deliveries"]
        assert delivery["request"]["headers"]["authorization"] == "Basic ***"
        assert delivery["request"]["json"]["event"] == "Signed Up"

        (result,) = send_event(pipeline, event)
        assert result["status"] == 200
        visitor = httpx.get(f"{sandbox.url}/api/visitors/vc-api", timeout=10).json()
        assert visitor["goals"] == {"Signed Up": 1}


def test_public_names_are_exported() -> None:
    assert set(kameleoon_relay.__all__) >= {
        "load_config",
        "Pipeline",
        "send_event",
        "normalize_event",
        "ConfigError",
        "SpecError",
    }
    assert kameleoon_relay.__version__


def test_public_objects_never_show_the_api_key_and_never_return_undefined() -> None:
    from kameleoon_relay import Pipeline, normalize_event
    from kameleoon_relay.config import parse_config
    from kameleoon_relay.errors import RelayError
    from kameleoon_relay.mapping import compile_mapping

    api_key = "c2VjcmV0LWtleS1mb3ItcmVwcg=="
    config = parse_config(
        {
            "sources": [{"name": "web", "write_key": "wk"}],
            "destinations": [
                {
                    "name": "k",
                    "type": "kameleoon-actions",
                    "settings": {"apiKey": api_key, "sitecode": "1q2w3e4r5t"},
                }
            ],
            "admin_token": "admin-token-for-repr",
        },
        {},
    )
    pipeline = Pipeline(config)
    planned = pipeline.plan(normalize_event({"type": "track", "event": "E", "userId": "u"}))
    assert planned and planned[0].request is not None
    for shown in (
        repr(planned),
        repr(config),
        repr(config.destinations),
        repr(pipeline.destinations),
    ):
        assert api_key not in shown and "admin-token-for-repr" not in shown
    assert "Basic ***" in repr(planned)
    assert compile_mapping({"@path": "$.event"})({}) is None
    assert compile_mapping({"a": {"@path": "$.nope"}})({}) == {}
    from kameleoon_relay.config import ConfigError
    from kameleoon_relay.ingest import SpecError

    assert issubclass(ConfigError, RelayError) and issubclass(SpecError, RelayError)
