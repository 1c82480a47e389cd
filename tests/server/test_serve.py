"""`kameleoon-relay serve`: the embedded default on a fresh directory, Kameleoon mode, SIGTERM."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import orjson

from tests.e2e.stack import SANDBOX_API_KEY, relay, sandbox, wait_for, write_config
from tests.helpers.processes import CLI, free_port, running, start_server, wait_until_up

CLEAN_ENV = {"KAMELEOON_API_KEY": "", "KAMELEOON_SITECODE": "", "KAMELEOON_RELAY_ADMIN_TOKEN": ""}


def banner_line(log: str, label: str) -> str:
    return next(line for line in log.splitlines() if line.strip().startswith(label))


def test_serve_with_no_config_runs_the_readme_curl_into_the_sandbox(tmp_path: Path) -> None:
    with running(["serve"], tmp_path / "serve.log", cwd=tmp_path, env=CLEAN_ENV) as server:
        log = server.log()
        key = (tmp_path / ".kameleoon-relay" / "write_key").read_text().strip()
        assert f"write key {key}" in log
        assert (tmp_path / ".kameleoon-relay" / "relay.db").exists()
        # The exact command the relay prints (the README's).
        curl = banner_line(log, "try it:").split("try it:", 1)[1].strip()
        assert curl.startswith(f"curl -u {key}: {server.url}/v1/track")
        done = subprocess.run(
            ["bash", "-c", curl], capture_output=True, text=True, timeout=30, check=True
        )
        assert orjson.loads(done.stdout) == {"success": True}
        sent = orjson.loads(shlex.split(curl)[-1])
        goal = wait_for(
            lambda: {g["name"]: g for g in httpx.get(f"{server.url}/sandbox/api/goals").json()[
                "goals"]}.get(sent["event"], {}).get("conversions"),
            "the goal to convert in the sandbox",
        )  # fmt: skip
        assert goal == 1
        code = sent["properties"]["kameleoonVisitorCode"]
        seen = httpx.get(f"{server.url}/sandbox/api/visitors/{code}").json()
        assert seen["goals"] == {sent["event"]: 1}
        page = httpx.get(f"{server.url}/sandbox/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        # No admin token configured: the admin API answers on loopback.
        assert httpx.get(f"{server.url}/api/stats").json()["events"]["received"] == 1
        # The demo key is printed once, on purpose, for configs that target the sandbox.
        shown = [line for line in server.log().splitlines() if SANDBOX_API_KEY in line]
        assert shown == [banner_line(log, "sandbox credentials")]
    # A restart keeps the write key, so configured SDKs keep working.
    with running(["serve"], tmp_path / "serve2.log", cwd=tmp_path, env=CLEAN_ENV) as again:
        assert f"write key {key}" in again.log()


def test_serve_targets_kameleoon_when_credentials_are_set(tmp_path: Path) -> None:
    secret = "eyJpZCI6InJlYWwiLCJzZWNyZXQiOiJ0b3Atc2VjcmV0In0="
    env = {
        **CLEAN_ENV,
        "KAMELEOON_API_KEY": secret,
        "KAMELEOON_SITECODE": "realsite01",
        "KAMELEOON_RELAY_ADMIN_TOKEN": "from-the-env-token-0123",
    }
    with running(["serve"], tmp_path / "serve.log", cwd=tmp_path, env=env) as server:
        log = server.log()
        assert "-> https://integrations.kameleoon.com/segmentio" in log
        assert "sandbox page" not in log
        assert httpx.get(f"{server.url}/sandbox/").status_code == 404
        assert secret not in log
        # The token from the environment guards the admin API, even on loopback.
        assert httpx.get(f"{server.url}/api/stats").status_code == 401
        token = {"Authorization": "Bearer from-the-env-token-0123"}
        preview = httpx.post(
            f"{server.url}/api/preview",
            json={"type": "track", "event": "E", "userId": "u"},
            headers=token,
        )
        assert preview.status_code == 200
        assert preview.json()["deliveries"][0]["request"]["url"].startswith(
            "https://integrations.kameleoon.com/segmentio"
        )
        assert secret not in preview.text


def _non_loopback_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent; picks the outgoing interface
        address = probe.getsockname()[0]
    assert not address.startswith("127."), "this test needs a non-loopback IPv4 interface"
    return address


def test_without_a_token_the_admin_api_refuses_non_loopback_callers(tmp_path: Path) -> None:
    address = _non_loopback_address()
    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [*CLI, "serve", "--host", "0.0.0.0", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, **CLEAN_ENV},
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", proc, log_path)
        remote = httpx.get(f"http://{address}:{port}/api/stats")
        assert remote.status_code == 403
        assert "loopback" in remote.json()["error"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/stats").status_code == 200
        # Ingest and health are for everyone.
        assert httpx.get(f"http://{address}:{port}/health").status_code == 200
    finally:
        proc.terminate()
        proc.wait(15)


def test_sigterm_lets_an_in_flight_request_finish(tmp_path: Path) -> None:
    with sandbox(tmp_path) as box:
        config = write_config(tmp_path, box.url)
        server = start_server(
            ["serve", "--config", str(config)], tmp_path / "relay.log", health_path="/health"
        )
        try:
            body = orjson.dumps(
                {
                    "userId": "u-term",
                    "event": "Sent During Shutdown",
                    "properties": {"kameleoonVisitorCode": "vis-term"},
                    "writeKey": "wk_e2e_test_key",
                }
            )
            half = len(body) // 2
            conn = socket.create_connection(("127.0.0.1", server.port))
            conn.sendall(
                b"POST /v1/track HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:half]
            )
            time.sleep(0.2)  # let the server start reading the request
            server.proc.send_signal(signal.SIGTERM)
            # Shutdown has begun once the relay stops accepting new connections.
            wait_for(lambda: not _accepts(server.port), "the relay to stop listening")
            conn.sendall(body[half:])
            response = _read_response(conn)
            assert response.startswith(b"HTTP/1.1 200"), response
            assert b'{"success":true}' in response
            # uvicorn re-raises SIGTERM after its graceful shutdown, hence -15.
            assert server.proc.wait(30) in (0, -signal.SIGTERM)
            assert "Application shutdown complete" in server.log()
        finally:
            server.stop()
        # The event that got its 200 during shutdown is delivered after a restart.
        with relay(config, tmp_path):
            wait_for(
                lambda: httpx.get(f"{box.url}/api/visitors/vis-term").status_code == 200,
                "the event to be delivered",
            )


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _read_response(conn: socket.socket) -> bytes:
    conn.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    return data
