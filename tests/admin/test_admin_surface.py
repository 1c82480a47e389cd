"""Issue 22, defects 3 and 7, over real HTTP to a real relay (sandbox mounted, no
admin_token: the default) and to one with a token: the Host must be a loopback name
(or listed in allowed_hosts), a state change must come from the relay's own pages, a
JSON body must say so, and wrong tokens from one client are answered 429 after a few,
without slowing another client (told apart by their loopback source addresses)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import WRITE_KEY, relay, sandbox, wait_for, write_config
from tests.helpers.processes import Server, free_port, running

TOKEN = "surface-admin-token-0123"
REBOUND = "rebind.attacker.example"
JSON = {"content-type": "application/json"}


@contextlib.contextmanager
def open_relay(directory: Path, **config: object) -> Iterator[Server]:
    """`serve --sandbox` without admin_token, delivering to its own mounted sandbox."""
    port = free_port()
    path = write_config(directory, f"http://127.0.0.1:{port}/sandbox", **config)
    args = ["serve", "--config", str(path), "--sandbox"]
    with running(args, directory / "relay.log", health_path="/health", port=port) as server:
        yield server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with open_relay(tmp_path_factory.mktemp("surface")) as server:
        yield server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A relay with admin_token; each test's clients use source addresses of their own."""
    directory = tmp_path_factory.mktemp("surface-token")
    with (
        sandbox(directory) as box,
        relay(write_config(directory, box.url, admin_token=TOKEN), directory) as server,
    ):
        yield server


def from_address(address: str) -> httpx.Client:
    """A client whose connections leave from `address` (127.0.0.0/8 is all loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


# -- Host -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/deliveries"),
        ("GET", "/metrics"),
        ("GET", "/tester"),
        ("GET", "/login"),
        ("GET", "/sandbox/api/events"),
        ("GET", "/sandbox/"),
    ],
)
def test_a_rebound_host_is_refused(served: Server, method: str, path: str) -> None:
    headers = {"host": f"{REBOUND}:{served.port}", "accept": "text/html"}
    answer = httpx.request(method, f"{served.url}{path}", headers=headers, timeout=10)
    assert answer.status_code == 403, answer.text
    assert "allowed_hosts" in answer.json()["error"]
    assert "kr_session" not in answer.headers.get("set-cookie", "")  # no session handed out
    for name in ("localhost", "127.0.0.1"):
        headers["host"] = f"{name}:{served.port}"
        local = httpx.request(method, f"{served.url}{path}", headers=headers, timeout=10)
        assert local.status_code in (200, 303), (name, local.text)


def test_a_rebound_host_cannot_save_a_mapping(served: Server) -> None:
    body = {"destination": "kameleoon", "index": None, "subscription": {}}
    rebound = {"host": REBOUND, "origin": f"http://{REBOUND}", "x-csrf-token": "any", **JSON}
    answer = httpx.post(f"{served.url}/dashboard/api/save", json=body, headers=rebound)
    assert answer.status_code == 403 and "allowed_hosts" in answer.json()["error"]


def test_ingest_answers_any_host_and_origin(served: Server) -> None:
    event = {"userId": "u-any-host", "event": "Any Host", "messageId": str(uuid.uuid4())}
    headers = {"host": REBOUND, "origin": "https://shop.example"}
    answer = httpx.post(
        f"{served.url}/v1/track", json=event, headers=headers, auth=(WRITE_KEY, ""), timeout=10
    )
    assert answer.status_code == 200, answer.text


def test_allowed_hosts_name_the_relay(tmp_path: Path) -> None:
    with open_relay(tmp_path, allowed_hosts=["relay.example.com"]) as server:
        named = {"host": "relay.example.com"}
        assert httpx.get(f"{server.url}/api/stats", headers=named).status_code == 200
        assert httpx.get(f"{server.url}/api/stats", headers={"host": REBOUND}).status_code == 403
        # A page of the listed name may change state; it is the relay.
        origin = {**named, "origin": "https://relay.example.com", **JSON}
        answer = httpx.post(f"{server.url}/api/replay", json={"dry_run": True}, headers=origin)
        assert answer.status_code == 200, answer.text


def test_with_a_token_and_no_allowed_hosts_any_host_may_try_the_token(guarded: Server) -> None:
    server = guarded
    bearer = {"host": REBOUND, "authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{server.url}/api/stats", headers=bearer).status_code == 200
    del bearer["authorization"]
    assert httpx.get(f"{server.url}/api/stats", headers=bearer).status_code == 401


# -- Origin and content-type ----------------------------------------------------------------


def test_state_changes_need_the_relays_own_origin(served: Server) -> None:
    url, body = f"{served.url}/api/replay", {"dry_run": True}

    def replay(**headers: str) -> int:
        return httpx.post(url, json=body, headers={**JSON, **headers}, timeout=10).status_code

    assert replay(origin="http://127.0.0.1:1") == 403  # another local port: another site
    assert replay(origin="https://evil.example") == 403
    assert replay(origin="null") == 403  # a sandboxed frame or a file
    assert replay(origin=served.url) == 200  # the dashboard's own page
    assert replay() == 200  # no Origin, a JSON content-type: no cross-site form sends that
    # No Origin and nothing a page could not send: refused.
    plain = {"content-type": "text/plain"}
    reload = httpx.post(f"{served.url}/api/config/reload", headers=plain, content=b"")
    assert reload.status_code == 403 and "cross-site" in reload.json()["error"]
    reload = httpx.post(f"{served.url}/api/config/reload", headers={"x-requested-with": "curl"})
    assert reload.status_code == 200, reload.text


def test_json_bodies_need_the_json_content_type(served: Server) -> None:
    own = {"origin": served.url}
    for path, body in (
        ("/api/replay", b'{"state": "all"}'),
        ("/api/preview", b'{"type": "track", "event": "E", "userId": "u"}'),
        ("/sandbox/api/faults", b'{"error_rate": 1}'),
    ):
        for kind in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {**own, **({"content-type": kind} if kind else {})}
            answer = httpx.post(f"{served.url}{path}", content=body, headers=headers)
            assert answer.status_code == 415, (path, kind, answer.text)
            assert "content-type: application/json" in answer.json()["error"]
    faults = httpx.get(f"{served.url}/sandbox/api/faults").json()
    assert faults["error_rate"] == 0


def test_the_sandbox_controls_follow_the_same_rules(served: Server) -> None:
    url = f"{served.url}/sandbox/api/faults"
    cross = {"origin": "http://127.0.0.1:1", **JSON}
    assert httpx.post(url, json={"error_rate": 1}, headers=cross).status_code == 403
    assert httpx.delete(url, headers={"origin": "http://127.0.0.1:1"}).status_code == 403
    assert httpx.get(url).json()["error_rate"] == 0
    assert httpx.post(url, json={"latency_ms": 1}, headers=JSON).json()["latency_ms"] == 1
    assert httpx.delete(url).status_code == 200  # DELETE: no cross-site page sends it


# -- wrong tokens ---------------------------------------------------------------------------


def test_wrong_tokens_are_answered_429_without_slowing_others(guarded: Server) -> None:
    server = guarded
    stats = f"{server.url}/api/stats"
    guesser, other = from_address("127.0.0.2"), from_address("127.0.0.3")
    wrong = {"authorization": "Bearer not-the-token-0000"}
    right = {"authorization": f"Bearer {TOKEN}"}
    statuses = [guesser.get(stats, headers=wrong).status_code for _ in range(12)]
    assert statuses[:11] == [401] * 11 and statuses[11] == 429, statuses
    locked = guesser.get(stats, headers=right)  # even the right token: no oracle
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    # Another client is answered as before, at once.
    assert other.get(stats, headers=right).status_code == 200
    assert other.get(stats, headers=wrong).status_code == 401
    # The lockout ends; the next failure locks out for twice as long.
    wait = int(locked.headers["retry-after"])
    time.sleep(wait + 0.2)
    assert guesser.get(stats, headers=wrong).status_code == 401
    again = guesser.get(stats, headers=wrong)
    assert again.status_code == 429 and int(again.headers["retry-after"]) > wait
    time.sleep(int(again.headers["retry-after"]) + 0.2)
    assert guesser.get(stats, headers=right).status_code == 200  # success forgets
    assert guesser.get(stats, headers=wrong).status_code == 401


def test_wrong_tokens_at_the_dashboard_login_are_throttled_too(guarded: Server) -> None:
    server = guarded
    guesser = from_address("127.0.0.4")
    guesser.headers["origin"] = server.url
    page = [guesser.get(f"{server.url}/login").text]

    def login(token: str) -> httpx.Response:
        # Each answer's form carries a fresh CSRF token (and sets its cookie): a browser
        # posts the form it was last shown.
        csrf = page[0].split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = guesser.post(
            f"{server.url}/login", data={"csrf_token": csrf, "token": token, "next": "/"}
        )
        if 'name="csrf_token"' in answer.text:
            page[0] = answer.text
        return answer

    statuses = [login("wrong-token-guess-00").status_code for _ in range(12)]
    assert statuses[:11] == [401] * 11 and statuses[11] == 429, statuses
    locked = login(TOKEN)
    assert locked.status_code == 429 and "Too many wrong tokens" in locked.text
    assert locked.headers["retry-after"]
    # The admin API counts the same client's failures: it is locked out there too.
    wrong = {"authorization": f"Bearer {TOKEN}"}
    assert guesser.get(f"{server.url}/api/stats", headers=wrong).status_code == 429
    other = from_address("127.0.0.5")
    assert other.get(f"{server.url}/api/stats", headers=wrong).status_code == 200
    wait_for(lambda: login(TOKEN).status_code == 303, "the lockout to end", timeout=5)
