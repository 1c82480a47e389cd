"""The real parts an end-to-end test runs: a sandbox process, a relay process, a config."""

from __future__ import annotations

import base64
import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from tests.helpers.processes import Server, running

SANDBOX_API_KEY = base64.b64encode(b'{"id":"demo","secret":"demo"}').decode()
SANDBOX_SITECODE = "demosite01"
WRITE_KEY = "wk_e2e_test_key"
NODE_DIR = Path(__file__).parent / "node"

T = TypeVar("T")


@dataclass
class Stack:
    """A relay process and the sandbox process it delivers to."""

    relay: Server
    sandbox: Server


def write_config(
    directory: Path,
    sandbox_url: str,
    *,
    admin_token: str | None = None,
    write_key: str = WRITE_KEY,
    extra_destinations: tuple[dict[str, Any], ...] = (),
    **extra: Any,
) -> Path:
    """A relay config: one source, Kameleoon (Actions) presets aimed at the sandbox."""
    document: dict[str, Any] = {
        "sources": [{"name": "web", "write_key": write_key}],
        "destinations": [
            {
                "name": "kameleoon",
                "type": "kameleoon-actions",
                "endpoint": f"{sandbox_url}/segmentio",
                "settings": {"apiKey": SANDBOX_API_KEY, "sitecode": SANDBOX_SITECODE},
            },
            *extra_destinations,
        ],
        "database": f"sqlite:///{directory / 'relay.db'}",
        "delivery": {"backoff_base": 0.05, "backoff_max": 0.5},
        **extra,  # may replace any of the above
    }
    if admin_token:
        document["admin_token"] = admin_token
    path = directory / "relay.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@contextlib.contextmanager
def sandbox(directory: Path, *options: str) -> Iterator[Server]:
    """`kameleoon-relay sandbox` with its state in a file under `directory`."""
    args = ["sandbox", "--db", str(directory / "sandbox.db"), *options]
    with running(args, directory / "sandbox.log") as s:
        yield s


@contextlib.contextmanager
def relay(config: Path, directory: Path, **kwargs: Any) -> Iterator[Server]:
    with running(
        ["serve", "--config", str(config)], directory / "relay.log", health_path="/health", **kwargs
    ) as r:
        yield r


def post_batches(relay_url: str, events: list[dict[str, Any]], size: int) -> None:
    """`events` to the relay's /v1/batch, `size` a request; each must be answered 200."""
    with httpx.Client(auth=(WRITE_KEY, ""), timeout=30) as client:
        for start in range(0, len(events), size):
            body = {"batch": events[start : start + size]}
            assert client.post(f"{relay_url}/v1/batch", json=body).status_code == 200


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    """Polls `probe` until it returns something truthy; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")


def goals(sandbox_url: str) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{sandbox_url}/api/goals", timeout=10).json()
    return {goal["name"]: goal for goal in answer["goals"]}


def visitor(sandbox_url: str, code: str) -> dict[str, Any] | None:
    answer = httpx.get(f"{sandbox_url}/api/visitors/{code}", timeout=10)
    return answer.json() if answer.status_code == 200 else None


def npm_install() -> None:
    """Installs the Node clients (unmodified Segment SDKs) once; npm is quick when done."""
    if (NODE_DIR / "node_modules" / "@segment" / "analytics-next").is_dir() and (
        NODE_DIR / "node_modules" / "@segment" / "analytics-node"
    ).is_dir():
        return
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        check=True,
        timeout=300,
    )
