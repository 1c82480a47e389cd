"""Issue 22, defect 2: what follows the end of a gzip body is refused at once, never
buffered. Against a real `serve`: 16 connections each streaming megabytes after a valid
gzip member leave its RSS within 20 MB, and ordinary ingest keeps answering meanwhile."""

from __future__ import annotations

import base64
import gzip
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.stack import WRITE_KEY, Stack, relay, sandbox, write_config

ATTACKERS = 16
TRAILING_BYTES = 8 * 1024 * 1024  # each; before the fix all of it was kept
CHUNK = 64 * 1024
RSS_ALLOWANCE_KB = 20 * 1024
AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("gzip")
    with sandbox(directory) as box, relay(write_config(directory, box.url), directory) as r:
        yield Stack(r, box)


def batch(name: str) -> bytes:
    event = {"type": "track", "event": name, "userId": "gz-user", "messageId": name}
    return orjson.dumps({"batch": [event]})


def post_gzip(stack: Stack, wire: bytes) -> httpx.Response:
    headers = {"Authorization": AUTH, "Content-Encoding": "gzip"}
    return httpx.post(f"{stack.relay.url}/v1/batch", content=wire, headers=headers, timeout=10)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_trailing_bytes_after_the_gzip_member_are_a_400(stack: Stack) -> None:
    answer = post_gzip(stack, gzip.compress(batch("gz-trailing")) + b"\x00" * 100)
    assert answer.status_code == 400, answer.text
    assert "after the end of the gzip body" in answer.json()["error"]


def test_a_second_gzip_member_is_a_400_not_silently_ignored(stack: Stack) -> None:
    wire = gzip.compress(batch("gz-first")) + gzip.compress(batch("gz-second"))
    answer = post_gzip(stack, wire)
    assert answer.status_code == 400, answer.text
    assert "after the end of the gzip body" in answer.json()["error"]


def test_one_gzip_member_is_still_read(stack: Stack) -> None:
    answer = post_gzip(stack, gzip.compress(batch(f"gz-ok-{uuid.uuid4().hex[:8]}")))
    assert answer.status_code == 200, answer.text


def test_a_gzip_body_past_the_wire_limit_is_refused_from_its_length(stack: Stack) -> None:
    # 2 MB of incompressible-looking gzip: more than any 500 KB batch can take on the wire.
    headers = {"Authorization": AUTH, "Content-Encoding": "gzip", "Content-Length": "2000000"}
    with socket.create_connection(("127.0.0.1", stack.relay.port), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}\r\n".encode())
        answer = _read_answer(sock)  # before any body byte is sent
    assert answer.startswith("HTTP/1.1 400"), answer
    assert "payload too large" in answer


def _read_answer(sock: socket.socket) -> str:
    """The whole answer: its head and body may come in two writes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data.decode(errors="replace")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
    while length and len(body) < int(length.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode(errors="replace")


def attack(port: int, outcomes: list[str]) -> None:
    """One gzip member, then TRAILING_BYTES more, chunked; records the status line."""
    member = gzip.compress(batch(f"gz-attack-{uuid.uuid4().hex[:8]}"))
    junk = b"\x1f\x8b" + b"A" * (CHUNK - 2)
    head = (
        "POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {AUTH}\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall(head.encode() + b"%x\r\n%s\r\n" % (len(member), member))
        sent = 0
        while sent < TRAILING_BYTES:
            if select.select([sock], [], [], 0)[0]:
                break  # answered already: stop sending
            sock.sendall(b"%x\r\n%s\r\n" % (len(junk), junk))
            sent += len(junk)
        else:
            sock.sendall(b"0\r\n\r\n")
        outcomes.append(sock.recv(4096).decode(errors="replace").split("\r\n", 1)[0])
    except OSError as exc:  # reset after the server answered and closed
        outcomes.append(f"error: {exc!r}")
    finally:
        sock.close()


def test_sixteen_trailing_streams_cost_no_memory_and_ingest_keeps_answering(
    stack: Stack,
) -> None:
    pid = stack.relay.proc.pid
    for index in range(20):  # warm up: the allocator's steady state, not start-up's
        assert post_gzip(stack, gzip.compress(batch(f"gz-warm-{index}"))).status_code == 200
    baseline = rss_kb(pid)
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid))
            time.sleep(0.02)

    legit: list[int] = []

    def ingest() -> None:
        # Ordinary requests with their ordinary timeout (10 s), all through the attack.
        while not done.is_set():
            name = f"gz-legit-{uuid.uuid4().hex[:8]}"
            legit.append(post_gzip(stack, gzip.compress(batch(name))).status_code)
            time.sleep(0.05)

    outcomes: list[str] = []
    attackers = [
        threading.Thread(target=attack, args=(stack.relay.port, outcomes)) for _ in range(ATTACKERS)
    ]
    helpers = [threading.Thread(target=sample), threading.Thread(target=ingest)]
    for thread in (*helpers, *attackers):
        thread.start()
    for thread in attackers:
        thread.join(120)
    time.sleep(0.5)  # a last sample and a few more legitimate requests
    done.set()
    for thread in helpers:
        thread.join(30)
    growth = peak[0] - baseline
    assert growth <= RSS_ALLOWANCE_KB, f"RSS grew {growth} kB (from {baseline} kB)"
    assert len(outcomes) == ATTACKERS
    assert all(o.startswith("HTTP/1.1 400") or o.startswith("error") for o in outcomes), outcomes
    assert any(o.startswith("HTTP/1.1 400") for o in outcomes), outcomes
    assert legit and all(status == 200 for status in legit), legit
