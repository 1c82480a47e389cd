"""What a client from the network gets (issue #11): the relay app in-process, its ASGI
client address set to a non-loopback one, so nothing is ever sent off this machine.

Without `admin_token`, the admin API, /metrics and the sandbox's controls and event
bodies answer loopback only; with one, they need it as a Bearer token. The sandbox's
/segmentio endpoints stay open, as Kameleoon's are.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the project pins
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from kameleoon_relay.config import load_config
from kameleoon_relay.sandbox import create_app as create_sandbox
from kameleoon_relay.server import create_app
from tests.e2e.stack import write_config

REMOTE = ("10.231.0.2", 40000)
LOOPBACK = ("127.0.0.1", 40000)
TOKEN = "network-guard-token"
LOCAL_URL = "http://127.0.0.1:8080"
NETWORK_URL = "http://10.231.0.1:8080"
GUARDED = [
    ("GET", "/metrics"),
    ("GET", "/api/stats"),
    ("GET", "/api/deliveries"),
    ("GET", "/sandbox/"),
    ("GET", "/sandbox/api/events"),
    ("GET", "/sandbox/api/visitors"),
    ("GET", "/sandbox/api/faults"),
    ("POST", "/sandbox/api/faults"),
    ("DELETE", "/sandbox/api/faults"),
]


class Clients:
    """One app, its lifespan run once; requests from loopback or from the network."""

    def __init__(self, app) -> None:
        self.app = app

    def local(self, **headers: str) -> TestClient:
        return TestClient(self.app, base_url=LOCAL_URL, client=LOOPBACK, headers=headers)

    def remote(self, **headers: str) -> TestClient:
        # From the network, the relay is named by its own network address.
        return TestClient(self.app, base_url=NETWORK_URL, client=REMOTE, headers=headers)


def clients_for(tmp_path: Path, token: str | None) -> Iterator[Clients]:
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9", admin_token=token))
    app = create_app(config, sandbox=create_sandbox())
    with TestClient(app, client=LOOPBACK):  # runs the lifespan for every client below
        yield Clients(app)


@pytest.fixture
def open_app(tmp_path: Path) -> Iterator[Clients]:
    yield from clients_for(tmp_path, None)


@pytest.fixture
def token_app(tmp_path: Path) -> Iterator[Clients]:
    yield from clients_for(tmp_path, TOKEN)


def call(client: TestClient, method: str, path: str, **kwargs):
    return client.request(method, path, json={} if method == "POST" else None, **kwargs)


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_without_a_token_only_loopback_is_answered(open_app, method: str, path: str) -> None:
    answer = call(open_app.remote(), method, path)
    assert answer.status_code == 403, answer.text
    assert "loopback" in answer.json()["error"]
    answer = call(open_app.local(), method, path)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_with_a_token_the_network_needs_it(token_app, method: str, path: str) -> None:
    answer = call(token_app.remote(), method, path)
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
    wrong = call(token_app.remote(Authorization="Bearer x"), method, path)
    assert wrong.status_code == 401
    right = call(token_app.remote(Authorization=f"Bearer {TOKEN}"), method, path)
    assert right.status_code == 200, right.text


def test_metrics_take_the_token_as_prometheus_sends_it(token_app) -> None:
    answer = token_app.remote(Authorization=f"Bearer {TOKEN}").get("/metrics")
    assert answer.status_code == 200
    assert "kameleoon_relay_ingest_requests_total" in answer.text


@pytest.mark.parametrize("app_fixture", ["open_app", "token_app"])
def test_the_sandbox_segmentio_endpoints_stay_open(request, app_fixture: str) -> None:
    remote = request.getfixturevalue(app_fixture).remote()
    # Kameleoon's contract answers anyone; a bad API key is its 401, not the guard's.
    answer = remote.post("/sandbox/segmentio", json={"type": "track"})
    assert answer.status_code == 401
    assert "API key" in answer.json()["error"]
    assert remote.get("/sandbox/segmentio/getapikey?id=x").status_code == 401


def test_a_fault_injection_from_the_network_changes_nothing(open_app) -> None:
    before = open_app.local().get("/sandbox/api/faults").json()
    assert open_app.remote().post("/sandbox/api/faults", json={"error_rate": 1}).status_code == 403
    assert open_app.local().get("/sandbox/api/faults").json() == before


def test_a_logged_in_dashboard_session_opens_the_sandbox(token_app) -> None:
    # Issue 19, defect 1: the dashboard's link to the sandbox answered a raw JSON 401.
    browser = token_app.remote(Origin=NETWORK_URL)  # a browser's form post names its page
    form = browser.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    assert browser.get("/sandbox/").status_code == 401
    logged = browser.post(
        "/login",
        data={"csrf_token": csrf.group(1), "next": "/", "token": TOKEN},
        follow_redirects=False,
    )
    assert logged.status_code == 303, logged.text
    page = browser.get("/sandbox/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert browser.get("/sandbox/api/events").status_code == 200
    # Another client's cookie that no session holds opens nothing.
    stranger = token_app.remote()
    stranger.cookies.set("kr_session", "not-a-session")
    assert stranger.get("/sandbox/").status_code == 401


def test_a_reload_moves_the_mounted_sandbox_to_the_new_admin_token(tmp_path: Path) -> None:
    # Loopback is answered without a token: the move shows from the network.
    first, second = "first-admin-token-0123", "second-admin-token-0123"
    path = write_config(tmp_path, "http://127.0.0.1:9", admin_token=first)
    app = create_app(load_config(path), sandbox=create_sandbox(), loader=lambda: load_config(path))
    with TestClient(app, client=LOOPBACK):
        clients = Clients(app)
        page = "/sandbox/api/stats"
        assert clients.remote(Authorization=f"Bearer {first}").get(page).status_code == 200
        write_config(tmp_path, "http://127.0.0.1:9", admin_token=second)
        reload = clients.local(Authorization=f"Bearer {first}").post("/api/config/reload")
        assert reload.status_code == 200, reload.text
        assert clients.remote(Authorization=f"Bearer {first}").get(page).status_code == 401
        assert clients.remote(Authorization=f"Bearer {second}").get(page).status_code == 200
