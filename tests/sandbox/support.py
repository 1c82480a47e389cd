"""Helpers for the sandbox tests: post events, start sandbox processes (plain or mounted)."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.helpers.processes import REPO, Server, free_port, running, wait_until_up

DEMO_API_KEY = base64.b64encode(b'{"id":"demo","secret":"demo"}').decode()
DEMO_SITECODE = "demosite01"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def post_event(
    client: httpx.Client,
    body: Any,
    *,
    api_key: str = DEMO_API_KEY,
    sitecode: str = DEMO_SITECODE,
    **kwargs: Any,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {
        "authorization": f"Basic {api_key}",
        "x-segment-settings": sitecode,
        "content-type": "application/json",
    }
    return client.post("/segmentio", content=content, headers=headers, **kwargs)


def track(event: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "messageId": unique("m"),
        "timestamp": "2024-05-01T12:00:00.000Z",
        "properties": {},
        "context": {},
        **fields,
    }


def start_args(config: Path | None = None, db: Path | None = None) -> list[str]:
    args = ["sandbox"]
    if config is not None:
        args += ["--config", str(config)]
    if db is not None:
        args += ["--db", str(db)]
    return args


@contextlib.contextmanager
def sandbox_client(
    args: list[str], log: Path, timeout: float = 10, **kwargs: Any
) -> Iterator[tuple[Server, httpx.Client]]:
    """A sandbox process and a client for it, for tests that need their own process."""
    with (
        running(args, log, **kwargs) as server,
        httpx.Client(base_url=server.url, timeout=timeout) as http,
    ):
        yield server, http


@contextlib.contextmanager
def mounted_sandbox(log: Path) -> Iterator[str]:
    """Serve tests/sandbox/mounted_app.py (the sandbox under /sandbox); yield the parent URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "tests.sandbox.mounted_app:create", "--factory"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/sandbox/api/stats", proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
