"""One sandbox and one relay per end-to-end test module, as real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, relay, sandbox, write_config


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("e2e")
    with sandbox(directory) as box, relay(write_config(directory, box.url), directory) as r:
        yield Stack(r, box)
