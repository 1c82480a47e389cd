"""One sandbox and one relay per end-to-end test module, as real processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.stack import relay, sandbox, write_config
from tests.helpers.processes import Server


@dataclass
class Stack:
    relay: Server
    sandbox: Server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("e2e")
    with sandbox(directory) as box, relay(write_config(directory, box.url), directory) as r:
        yield Stack(r, box)
