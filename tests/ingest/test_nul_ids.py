"""Issue 22, defect 5: a NUL character in userId or messageId (or the other ids) is
refused as the Spec violation it is, naming the field: a 400 for a single event, a
per-item rejection in a 200 batch whose other events are stored. Never a 5xx, which
SDKs retry forever; the same answer on SQLite and on PostgreSQL (which cannot store
NUL in text). The rejected event is kept readable, the NUL escaped."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.stack import SANDBOX_API_KEY, SANDBOX_SITECODE, WRITE_KEY, relay, write_config


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, auth=(WRITE_KEY, ""), timeout=10)


@pytest.mark.parametrize(
    "field",
    ["userId", "messageId", "anonymousId"],
)
def test_nul_in_an_id_is_refused_naming_the_field_on_both_stores(
    tmp_path: Path, db_url: str, field: str
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", database=db_url)
    with relay(config, tmp_path) as r:
        event = {"userId": "nul-user", "event": "Nul", "messageId": str(uuid.uuid4())}
        event[field] = "before\x00after"
        single = post(r.url, "/v1/track", event)
        assert single.status_code == 400, single.text
        (problem,) = single.json()["problems"]
        assert problem.startswith(f"{field}: must not contain a NUL character")
        good = {
            "type": "track",
            "userId": "nul-good",
            "event": "Fine",
            "messageId": str(uuid.uuid4()),
        }
        batch = post(r.url, "/v1/batch", {"batch": [{"type": "track", **event}, good]})
        assert batch.status_code == 200, batch.text
        (rejected,) = batch.json()["rejected"]
        assert rejected.startswith(f"batch[0]: {field}: must not contain a NUL character")
        admin = {"x-requested-with": "test"}
        rows = httpx.get(f"{r.url}/api/deliveries", params={"message_id": good["messageId"]}).json()
        assert len(rows["deliveries"]) == 1  # the good event of the batch is stored
        kept = httpx.get(f"{r.url}/api/rejected", headers=admin).json()["rejected"]
        assert any(field in str(row["problems"]) for row in kept)
        if field == "messageId":
            assert kept[0]["message_id"] == "before\\u0000after"  # readable, storable


def test_nul_in_admin_filters_is_a_400(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", database=db_url)
    with relay(config, tmp_path) as r:
        for name in ("user_id", "message_id", "destination", "action"):
            answer = httpx.get(f"{r.url}/api/deliveries", params={name: "a\x00b"})
            assert answer.status_code == 400, (name, answer.text)
            assert name in answer.json()["error"]
        replay = httpx.post(f"{r.url}/api/replay", json={"user_id": "a\x00b", "dry_run": True})
        assert replay.status_code == 400 and "user_id" in replay.json()["error"]
        page = httpx.get(
            f"{r.url}/deliveries", params={"user_id": "a\x00b"}, headers={"accept": "text/html"}
        )
        assert page.status_code == 400


def test_nul_in_a_linked_visitor_code_is_refused_on_both_stores(
    tmp_path: Path, db_url: str
) -> None:
    # The classic destination links ids to the `Kameleoon identifier` event's code, kept
    # as text beside them.
    classic = {
        "name": "classic",
        "type": "kameleoon-classic",
        "endpoint": "http://127.0.0.1:9/segmentio",
        "settings": {"apiKey": SANDBOX_API_KEY, "sitecode": SANDBOX_SITECODE},
    }
    config = write_config(
        tmp_path, "http://127.0.0.1:9", database=db_url, extra_destinations=(classic,)
    )
    with relay(config, tmp_path) as r:
        event = {
            "userId": "nul-linker",
            "event": "Kameleoon identifier",
            "properties": {"k_visitorCode": "vc\x00x"},
        }
        answer = post(r.url, "/v1/track", event)
        assert answer.status_code == 400, answer.text
        (problem,) = answer.json()["problems"]
        assert problem.startswith("k_visitorCode or kameleoonVisitorCode: must not contain")
        event["properties"]["k_visitorCode"] = "vc-fine"
        assert post(r.url, "/v1/track", event).status_code == 200
