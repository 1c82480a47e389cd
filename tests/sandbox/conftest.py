"""Fixtures: one real sandbox subprocess per test module, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.processes import Server, running


@pytest.fixture(scope="module")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    with running(["sandbox"], log, health_path="/api/stats") as server:
        yield server


@pytest.fixture
def client(sandbox_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox_server.url, timeout=10) as http:
        yield http
