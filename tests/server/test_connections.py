"""Slow, lying and hoarding clients against a real relay process (issue #11): deadlines for
headers and bodies, a connection cap below the open-files limit, one log line per
client that hangs up, and a flood of identical lines cut to a few."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import WRITE_KEY, sandbox, write_config
from tests.helpers.processes import REPO, Server, free_port, wait_until_up

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
FD_LIMIT = 1024  # the relay's open-files limit (soft = hard, so it cannot raise it)
CAP = FD_LIMIT - 512  # connections.connection_cap with the default reserve
BURST = 10  # logfilter.BURST


@contextlib.contextmanager
def limited_relay(directory: Path) -> Iterator[Server]:
    """`serve` with short deadlines, under an open-files limit it cannot raise."""
    with sandbox(directory) as box:
        config = write_config(directory, box.url)
        port = free_port()
        launcher = (
            "import resource, runpy, sys;"
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({FD_LIMIT}, {FD_LIMIT}));"
            "sys.argv = ['kameleoon-relay', *sys.argv[1:]];"
            "runpy.run_module('kameleoon_relay', run_name='__main__')"
        )
        log_path = directory / "relay.log"
        env = {
            **os.environ,
            "KAMELEOON_RELAY_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
            "KAMELEOON_RELAY_BODY_TIMEOUT": str(BODY_TIMEOUT),
        }
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    launcher,
                    "serve",
                    "--config",
                    str(config),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )
        server = Server(proc, port, log_path)
        try:
            wait_until_up(f"{server.url}/health", proc, log_path)
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with limited_relay(tmp_path_factory.mktemp("connections")) as server:
        yield server


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def track_head(write_key: str) -> bytes:
    """A /v1/track request head promising a 5,000-byte body (the tests send less)."""
    auth = httpx.BasicAuth(write_key, "")._auth_header[6:]
    return (
        "POST /v1/track HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
        f"Authorization: Basic {auth}\r\nContent-Length: 5000\r\n\r\n"
    ).encode()


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    start = time.monotonic()
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data, time.monotonic() - start


def healthy(server: Server) -> bool:
    return httpx.get(f"{server.url}/health", timeout=5).status_code == 200


def log_lines(server: Server, needle: str) -> list[str]:
    return [line for line in server.log().splitlines() if needle in line]


def test_partial_headers_get_a_408_and_are_let_go(relay: Server) -> None:
    with connect(relay) as sock:
        sock.sendall(b"POST /v1/track HTTP/1.1\r\nHost: relay\r\nContent-Type: appl")
        data, took = read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 408"), data
    assert took < HEADER_TIMEOUT + 2


def test_a_silent_connection_is_closed(relay: Server) -> None:
    with connect(relay) as sock:
        _, took = read_until_closed(sock, 10)
    assert took < HEADER_TIMEOUT + 2


def test_a_lying_content_length_is_cut_off_with_one_log_line(relay: Server) -> None:
    head = track_head(WRITE_KEY)
    with connect(relay) as sock:
        sock.sendall(head + b'{"userId": "liar"')
        _, took = read_until_closed(sock, 15)
    assert took < BODY_TIMEOUT + 2
    time.sleep(0.3)
    assert log_lines(relay, "hung up after 17 bytes")
    assert "Traceback" not in relay.log()
    assert healthy(relay)


def test_a_client_hanging_up_mid_body_logs_one_line_not_a_traceback(relay: Server) -> None:
    head = (
        "POST /v1/batch HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    )
    with connect(relay) as sock:
        sock.sendall(head.encode() + b'{"batch": [')
        time.sleep(0.2)
    time.sleep(0.5)
    assert len(log_lines(relay, "hung up after 11 bytes")) == 1
    assert "Traceback" not in relay.log()


def test_held_connections_past_the_cap_are_refused_and_the_relay_recovers(tmp_path: Path) -> None:
    """More held connections than descriptors: the cap answers 503 at once instead of
    the relay running out of descriptors (EMFILE) and logging each failed accept."""
    with limited_relay(tmp_path) as server:
        held: list[socket.socket] = []
        refused = 0
        try:
            for _ in range(CAP + 200):
                sock = connect(server)
                held.append(sock)
            time.sleep(0.3)
            for sock in held[CAP:]:
                data, _ = read_until_closed(sock, 5)
                refused += data.startswith(b"HTTP/1.1 503")
        finally:
            for sock in held:
                sock.close()
        assert refused >= 150  # the first CAP are held; nearly all the rest refused at once
        # Held ones are let go at the header deadline; then the relay serves again.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _serves(server):
            time.sleep(0.2)
        assert healthy(server)
        log = server.log()
        assert "Too many open files" not in log
        refusals = log_lines(server, "refusing connections")
        assert 1 <= len(refusals) <= BURST + 1  # rate-limited, not one line per client


def _serves(server: Server) -> bool:
    try:
        return healthy(server)
    except httpx.HTTPError:
        return False


def test_a_flood_of_identical_log_lines_is_rate_limited(relay: Server) -> None:
    before = len(log_lines(relay, "request headers not complete"))
    socks = [connect(relay) for _ in range(60)]
    for sock in socks:
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")
    time.sleep(HEADER_TIMEOUT + 1.5)
    for sock in socks:
        sock.close()
    after = len(log_lines(relay, "request headers not complete"))
    assert 1 <= after - before <= BURST


def test_an_endless_request_head_is_a_400_at_once(relay: Server) -> None:
    with connect(relay) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: relay\r\nX-Filler: " + b"a" * 20_000)
        data, took = read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 400"), data
    assert took < HEADER_TIMEOUT
    assert healthy(relay)


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body): the server may send the two in
    separate writes, so one recv() may hold only the head."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_the_next_request_on_a_kept_alive_connection_has_a_header_deadline(
    relay: Server,
) -> None:
    with connect(relay) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: relay\r\n\r\n")
        first = read_response(sock)
        assert first.startswith(b"HTTP/1.1 200"), first
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")
        data, took = read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 408"), data
    assert took < HEADER_TIMEOUT + 2


def test_a_body_still_due_after_an_early_answer_has_the_body_deadline(relay: Server) -> None:
    head = track_head("no-such-key")
    with connect(relay) as sock:
        sock.sendall(head + b'{"userId": "early"')
        data, took = read_until_closed(sock, 15)
    assert data.startswith(b"HTTP/1.1 401"), data
    assert HEADER_TIMEOUT < took < BODY_TIMEOUT + 2
    assert healthy(relay)
