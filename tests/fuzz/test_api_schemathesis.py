"""Schemathesis against the relay's own /openapi.json, over HTTP to a real relay: every
endpoint, ingest with Basic auth (the write key), the admin API with its Bearer token.

Checked: no 5xx; every status, content type and JSON body as the document says.
Valid and invalid requests both (schemathesis's negative mode mutates the schema).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode, checks
from schemathesis.generation.case import Case

from kameleoon_relay.admin.openapi import openapi_document
from kameleoon_relay.ingest.routes import ingest_paths
from tests.e2e.stack import WRITE_KEY, relay, sandbox, write_config
from tests.fuzz.budget import examples
from tests.fuzz.conftest import TRIED
from tests.helpers.processes import Server

ADMIN_TOKEN = "fuzz-admin-token"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def relay_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("fuzz-api")
    with sandbox(directory) as box:
        config = write_config(directory, box.url, admin_token=ADMIN_TOKEN)
        with relay(config, directory) as server:
            yield server


# The operations, from the same document the relay serves (its builder, no server needed).
OPERATIONS = {
    result.ok().label: result.ok()
    for result in schemathesis.openapi.from_dict(
        openapi_document(ingest_paths())
    ).get_all_operations()
}


def credentials(path: str) -> dict[str, str]:
    if path.startswith(("/v1/", "/b")):
        key = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        return {"Authorization": f"Basic {key}"}
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def test_the_served_document_is_the_one_fuzzed(relay_server: Server) -> None:
    served = httpx.get(f"{relay_server.url}/openapi.json", timeout=10).json()
    assert served == openapi_document(ingest_paths())


def _takes_input(label: str) -> bool:
    method, path = label.split(" ", 1)
    definition = openapi_document(ingest_paths())["paths"][path][method.lower()]
    return bool(definition.get("parameters") or definition.get("requestBody"))


def _only_body_negative(case: Case) -> bool:
    modes = {str(where.value): info.mode for where, info in case.meta.components.items()}
    return modes.get("body") is GenerationMode.NEGATIVE and all(
        mode is GenerationMode.POSITIVE for where, mode in modes.items() if where != "body"
    )


# Negative mode needs something to break: operations without input are fuzzed positively.
CASES = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label in sorted(OPERATIONS)
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or _takes_input(label)
]


# Schemathesis's own pytest plugin does not load under pytest 9: drive its strategies here.
@pytest.mark.parametrize(("label", "mode"), CASES)
def test_every_endpoint_keeps_to_its_document(
    relay_server: Server, label: str, mode: GenerationMode
) -> None:
    operation = OPERATIONS[label]
    headers = credentials(operation.path)

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=examples(20),
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Case) -> None:
        # An invalid body must be refused with a 4xx (not accepted, not a 5xx). Only when
        # the body alone is invalid: unknown query parameters are ignored, as HTTP servers
        # do, and the credentials schemathesis drops are put back below.
        extra = [checks.negative_data_rejection] if _only_body_negative(case) else []
        TRIED[f"HTTP requests ({mode.value})"] += 1
        case.call_and_validate(
            base_url=relay_server.url,
            headers={**(case.headers or {}), **headers},
            checks=CHECKS + extra,
            timeout=30,
        )

    run()
