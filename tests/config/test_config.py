from __future__ import annotations

from pathlib import Path

import pytest

from kameleoon_relay.config import ConfigError, default_config, load_config, parse_config

VALID = """
sources:
  - name: web
    write_key: ${WEB_WRITE_KEY}
destinations:
  - name: kameleoon
    type: kameleoon-actions
    sources: [web]
    endpoint: https://integrations.kameleoon.com/segmentio
    settings: {apiKey: ${KAMELEOON_API_KEY}, sitecode: 1q2w3e4r5t}
    subscriptions:
      - {name: Track Calls, trigger: 'type = "track"', action: logEvent, mapping: null}
delivery: {retry_window: 2h, timeout: 5s, concurrency: 4}
dedupe_window: 30m
"""
ENV = {"WEB_WRITE_KEY": "wk", "KAMELEOON_API_KEY": "secret-key"}


def write(tmp_path: Path, text: str, name: str = "relay.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_loads_and_interpolates(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), ENV)
    assert config.sources[0].write_key == "wk"
    destination = config.destinations[0]
    assert destination.settings == {"apiKey": "secret-key", "sitecode": "1q2w3e4r5t"}
    assert destination.sources == ("web",)
    assert destination.subscriptions[0].mapping is None
    assert config.delivery.retry_window == 7200 and config.delivery.timeout == 5
    assert config.delivery.concurrency == 4 and config.dedupe_window == 1800


def test_omitted_subscriptions_are_the_four_presets(tmp_path: Path) -> None:
    text = VALID.split("    subscriptions:")[0]
    config = load_config(write(tmp_path, text), ENV)
    names = [(s.name, s.trigger, s.action) for s in config.destinations[0].subscriptions]
    assert names == [
        ("Track Calls", 'type = "track"', "logEvent"),
        ("Page Calls", 'type = "page"', "page"),
        ("Group Calls", 'type = "group"', "group"),
        ("Identify Calls", 'type = "identify"', "identify"),
    ]


def test_errors_name_the_key_path(tmp_path: Path) -> None:
    text = (
        VALID.replace("action: logEvent", "action: logEvnt")
        .replace('type = "track"\'', "type = '")
        .replace("sitecode: 1q2w3e4r5t", "sitecod: 1q2w3e4r5t")
    )
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text), {"WEB_WRITE_KEY": "wk"})
    problems = "\n".join(raised.value.problems)
    assert "destinations[0].settings.apiKey: environment variable KAMELEOON_API_KEY" in problems
    assert "destinations[0].subscriptions[0].action: unknown action 'logEvnt'" in problems
    assert "destinations[0].settings.sitecode: required" in problems
    assert "destinations[0].settings.sitecod: unknown setting" in problems


def test_bad_trigger_and_mapping_are_reported_with_paths() -> None:
    document = {
        "sources": [{"name": "web", "write_key": "k"}],
        "destinations": [
            {
                "name": "k",
                "type": "kameleoon-actions",
                "settings": {"apiKey": "a", "sitecode": "s"},
                "subscriptions": [
                    {"name": "a", "trigger": '(type = "track"', "action": "logEvent"},
                    {
                        "name": "b",
                        "trigger": 'type = "page"',
                        "action": "page",
                        "mapping": {"name": {"@nope": 1}},
                    },
                ],
            }
        ],
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(document, {})
    problems = raised.value.problems
    assert any(p.startswith("destinations[0].subscriptions[0].trigger:") for p in problems)
    assert any(p.startswith("destinations[0].subscriptions[1].mapping:") for p in problems)


def test_more_than_fifty_subscriptions_is_an_error() -> None:
    subscriptions = [
        {"name": f"s{i}", "trigger": 'type = "track"', "action": "logEvent"} for i in range(51)
    ]
    document = {
        "sources": [{"name": "web", "write_key": "k"}],
        "destinations": [
            {
                "name": "k",
                "type": "kameleoon-actions",
                "settings": {"apiKey": "a", "sitecode": "s"},
                "subscriptions": subscriptions,
            }
        ],
    }
    with pytest.raises(ConfigError, match="allows at most 50"):
        parse_config(document, {})


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    # Where, and why: the parser's `problem`, with the construct it was reading.
    with pytest.raises(ConfigError, match=r"line 3, column 1: invalid YAML: expected ',' or ']'"):
        load_config(write(tmp_path, "sources:\n  - [unclosed\n"))


def test_default_config_targets_the_sandbox_unless_credentials(tmp_path: Path) -> None:
    local = default_config(tmp_path, {}, port=9000)
    assert local.mount_sandbox
    assert local.destinations[0].endpoint == "http://127.0.0.1:9000/sandbox/segmentio"
    assert default_config(tmp_path, {}).sources[0].write_key == local.sources[0].write_key
    key = "eyJpZCI6InJlYWwifQ=="  # base64 of {"id":"real"}
    live = default_config(tmp_path, {"KAMELEOON_API_KEY": key, "KAMELEOON_SITECODE": "1q2w3e4r5t"})
    assert not live.mount_sandbox
    assert live.destinations[0].endpoint == "https://integrations.kameleoon.com/segmentio"
    assert live.destinations[0].settings == {"apiKey": key, "sitecode": "1q2w3e4r5t"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("auto", "auto"), ("0", 0), ("3", 3), ("-1", None), ("many", None), ("true", None)],
)
def test_delivery_processes_is_auto_or_a_count(
    tmp_path: Path, value: str, expected: object
) -> None:
    text = VALID.replace("concurrency: 4}", f"concurrency: 4, processes: {value}}}")
    assert text != VALID
    if expected is None:
        with pytest.raises(ConfigError) as raised:
            load_config(write(tmp_path, text), ENV)
        problem = 'delivery.processes: must be "auto" or an integer from 0'
        assert [p for p in raised.value.problems if p.endswith(problem)]
        return
    settings = load_config(write(tmp_path, text), ENV).delivery
    assert settings.processes == expected
    if isinstance(expected, int):
        assert settings.process_count() == expected


def test_auto_means_one_delivery_process_on_two_cores_or_more() -> None:
    from kameleoon_relay.config.model import DeliverySettings, available_cpus

    assert DeliverySettings().processes == "auto"
    assert DeliverySettings().process_count() == (1 if available_cpus() >= 2 else 0)
