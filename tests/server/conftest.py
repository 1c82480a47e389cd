"""One sandbox and one relay (with an admin token) per test module, as real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import SANDBOX_API_KEY, Stack, relay, sandbox, write_config

ADMIN_TOKEN = "adm1n-t0ken-for-tests"
BROKEN_SITECODE = "wrongsite1"  # 10 chars, but not the demo account's: the sandbox says 403


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("stack")
    with sandbox(directory) as box:
        # A second destination the sandbox refuses (403): its deliveries fail, for replay.
        broken = {
            "name": "broken",
            "type": "kameleoon-actions",
            "endpoint": f"{box.url}/segmentio",
            "settings": {"apiKey": SANDBOX_API_KEY, "sitecode": BROKEN_SITECODE},
        }
        config = write_config(
            directory, box.url, admin_token=ADMIN_TOKEN, extra_destinations=(broken,)
        )
        with relay(config, directory) as r:
            yield Stack(r, box)
