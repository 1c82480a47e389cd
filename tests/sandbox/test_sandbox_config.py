"""Accounts from YAML, the demo default, and mounting under /sandbox."""

from __future__ import annotations

import base64
import subprocess
import sys

import httpx
import orjson
import pytest

from kameleoon_relay.sandbox import DEFAULT_CONFIG, SandboxConfigError
from kameleoon_relay.sandbox.config import parse_config
from tests.sandbox.support import (
    DEMO_API_KEY,
    mounted_sandbox,
    post_event,
    sandbox_client,
    start_args,
    track,
)

CONFIG = """
accounts:
  - api_key: {id: shop, secret: s3cret}
    sitecodes:
      - sitecode: shopsite01
        goals: [Checkout, Newsletter]
      - sitecode: shopsite02
        goals: []
  - api_key: {id: blog, secret: b, region: eu}
    sitecodes:
      - sitecode: blogsite01
"""


def key(obj: dict) -> str:
    return base64.b64encode(orjson.dumps(obj)).decode()


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("config")
    (tmp / "sandbox.yaml").write_text(CONFIG)
    with sandbox_client(start_args(config=tmp / "sandbox.yaml"), tmp / "log") as (_server, http):
        yield http


def test_goals_come_from_the_config(configured: httpx.Client) -> None:
    shop = key({"id": "shop", "secret": "s3cret"})
    response = post_event(
        configured, track("Checkout", userId="u"), api_key=shop, sitecode="shopsite01"
    )
    assert response.json()["goal"] == "Checkout"
    # Goals are per sitecode: the same name is a custom goal on the other site.
    response = post_event(
        configured, track("Checkout", userId="u"), api_key=shop, sitecode="shopsite02"
    )
    assert response.json()["goal"] == "SegmentIO track - Checkout"
    names = {(g["sitecode"], g["name"]) for g in configured.get("/api/goals").json()["goals"]}
    assert {("shopsite01", "Newsletter"), ("shopsite02", "SegmentIO track - Checkout")} <= names
    assert ("demosite01", "Order Completed") not in names  # no demo account when configured
    site2 = configured.get("/api/goals", params={"sitecode": "shopsite02"}).json()["goals"]
    assert [g["name"] for g in site2] == ["SegmentIO track - Checkout"]


def test_sitecode_of_another_account_is_403(configured: httpx.Client) -> None:
    blog = key({"id": "blog", "secret": "b", "region": "eu"})
    assert (
        post_event(
            configured, track("x", userId="u"), api_key=blog, sitecode="blogsite01"
        ).status_code
        == 200
    )
    assert (
        post_event(
            configured, track("x", userId="u"), api_key=blog, sitecode="shopsite01"
        ).status_code
        == 403
    )
    assert post_event(configured, track("x", userId="u"), api_key=DEMO_API_KEY).status_code == 401


def test_getapikey_needs_every_key_entry(configured: httpx.Client) -> None:
    ok = configured.get(
        "/segmentio/getapikey", params={"id": "blog", "secret": "b", "region": "eu"}
    )
    assert ok.status_code == 200
    partial = configured.get("/segmentio/getapikey", params={"id": "blog", "secret": "b"})
    assert partial.status_code == 401


def test_demo_account_is_the_default() -> None:
    (account,) = DEFAULT_CONFIG.accounts
    assert account.api_key_setting == DEMO_API_KEY
    assert [s.sitecode for s in account.sites] == ["demosite01"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "accounts"),
        ({"accounts": [{"api_key": "x"}]}, "api_key"),
        (
            {"accounts": [{"api_key": {"id": "a"}, "sitecodes": [{"sitecode": "short"}]}]},
            "10-character",
        ),
        (
            {"accounts": [{"api_key": {"id": "a"}, "sitecodes": ["abcdefghij", "abcdefghij"]}]},
            "twice",
        ),
        (
            {
                "accounts": [
                    {
                        "api_key": {"id": "a"},
                        "sitecodes": [{"sitecode": "abcdefghij", "goals": "x"}],
                    }
                ]
            },
            "goals",
        ),
    ],
)
def test_invalid_config_is_a_clear_error(data, message) -> None:
    with pytest.raises(SandboxConfigError, match=message):
        parse_config(data)


def test_cli_reports_a_bad_config_file(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("accounts: [{api_key: {id: a}, sitecodes: [tooshort]}]\n")
    result = subprocess.run(
        [sys.executable, "-m", "kameleoon_relay", "sandbox", "--config", str(bad)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "10-character" in result.stderr


def test_mounted_under_a_prefix(tmp_path) -> None:
    with mounted_sandbox(tmp_path / "mounted.log") as url:
        with httpx.Client(base_url=url + "/sandbox") as http:
            assert post_event(http, track("Signed Up", userId="mounted")).status_code == 200
            assert http.get("/api/visitors/mounted").json()["goals"] == {"Signed Up": 1}
            http.post("/api/faults", json={"error_rate": 1})
            assert post_event(http, track("Signed Up", userId="m2")).status_code == 503
            http.post("/api/faults", json={"reset_rate": 1})
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                post_event(http, track("Signed Up", userId="m3"))
            http.delete("/api/faults")
            assert http.get("/api/stats").json()["faults"] == {
                "error": 1,
                "rate_limit": 0,
                "timeout": 0,
                "reset": 1,
            }
            page = http.get("/")
            assert '<base href="/sandbox/">' in page.text
            assert page.headers["x-parent"] == "1"
        assert httpx.get(url + "/").text == "parent"
