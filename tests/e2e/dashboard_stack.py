"""A relay with an admin token and an overlay file, the sandbox it delivers to, and
helpers the dashboard tests share (posting events, polling the admin API)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.stack import SANDBOX_API_KEY, WRITE_KEY, relay, sandbox, wait_for, write_config
from tests.helpers.processes import Server

ADMIN_TOKEN = "dash-admin-t0ken"
OVERLAY = "relay.overlay.yaml"


@dataclass
class DashStack:
    relay: Server
    sandbox: Server
    directory: Path

    @property
    def overlay(self) -> Path:
        return self.directory / OVERLAY

    def admin(self, path: str, **params: Any) -> Any:
        answer = httpx.get(
            f"{self.relay.url}{path}",
            params=params,
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    def track(self, event: str, message_id: str | None = None, user: str = "dash-user") -> str:
        message_id = message_id or f"dash-{uuid.uuid4().hex[:12]}"
        body = {
            "type": "track",
            "event": event,
            "userId": user,
            "messageId": message_id,
            "properties": {"kameleoonVisitorCode": f"vc-{user}"},
        }
        answer = httpx.post(
            f"{self.relay.url}/v1/track", json=body, auth=(WRITE_KEY, ""), timeout=10
        )
        assert answer.status_code == 200, answer.text
        return message_id

    def state_of(self, message_id: str) -> str | None:
        rows = self.admin("/api/deliveries", message_id=message_id)["deliveries"]
        return rows[0]["state"] if rows else None

    def wait_state(self, message_id: str, state: str, timeout: float = 20) -> None:
        wait_for(lambda: self.state_of(message_id) == state, f"{message_id} {state}", timeout)


@contextlib.contextmanager
def dash_stack(directory: Path, **config: Any) -> Iterator[DashStack]:
    with sandbox(directory) as box:
        path = write_config(
            directory,
            box.url,
            admin_token=ADMIN_TOKEN,
            overlay=OVERLAY,
            delivery={"backoff_base": 0.05, "backoff_max": 0.2, "retry_window": "1s"},
            **config,
        )
        with relay(path, directory) as r:
            yield DashStack(r, box, directory)


__all__ = ["ADMIN_TOKEN", "SANDBOX_API_KEY", "DashStack", "dash_stack"]
