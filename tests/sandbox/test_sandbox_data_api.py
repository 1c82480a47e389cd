"""The sandbox's Data API over real HTTP: tokens, lines, nonces, read-back, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from kameleoon_relay.destinations.kameleoon_data_api.lines import (
    conversion_line,
    custom_data_line,
    nonce,
    page_line,
    visitor_suffix,
)
from tests.sandbox.support import DEMO_SITECODE, unique

EVENTS = f"/visit/events?siteCode={DEMO_SITECODE}"


def token(client: httpx.Client, secret: str = "demo") -> httpx.Response:
    form = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": secret}
    return client.post("/oauth/token", data=form)


@pytest.fixture
def bearer(client: httpx.Client) -> Iterator[dict[str, str]]:
    answer = token(client)
    assert answer.status_code == 200, answer.text
    yield {"authorization": f"Bearer {answer.json()['access_token']}"}
    client.post("/api/data-api", json={"token_ttl": 3600})


def post_lines(client: httpx.Client, headers: dict[str, str], lines: list[str]) -> httpx.Response:
    return client.post(EVENTS, content="\n".join(lines).encode(), headers=headers)


def read_back(client: httpx.Client, headers: dict[str, str], code: str) -> dict:
    params = {"siteCode": DEMO_SITECODE, "visitorCode": code, "conversion": "true",
              "customdata": "true", "page": "true"}  # fmt: skip
    answer = client.get("/visit/visitor", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_token_for_the_client_credentials_only(client: httpx.Client) -> None:
    good = token(client)
    assert good.status_code == 200
    assert good.json()["token_type"] == "Bearer" and good.json()["expires_in"] > 0
    assert token(client, secret="wrong").status_code == 401


def test_lines_convert_goals_by_id_with_revenue_and_set_custom_data(
    client: httpx.Client, bearer: dict[str, str]
) -> None:
    code = unique("vc é")
    scope = unique("scope")
    lines = [
        conversion_line(nonce(scope, "m1", 0), 424242, 12.5) + visitor_suffix(code, "UA/1"),
        conversion_line(nonce(scope, "m2", 0), 424242, 10) + visitor_suffix(code, None),
        conversion_line(nonce(scope, "m3", 0), 777, 0) + visitor_suffix(code, None),
        custom_data_line(nonce(scope, "m4", 0), 3, ("pro", "bêta")) + visitor_suffix(code, None),
        page_line(nonce(scope, "m5", 0), "https://x.test/a b", "Home") + visitor_suffix(code, None),
    ]
    assert post_lines(client, bearer, lines).status_code == 204
    back = read_back(client, bearer, code)
    conversions = {c["goalId"]: c for c in back["conversions"]}
    assert conversions[424242] == {"goalId": 424242, "name": "Order Completed", "count": 2,
                                   "revenue": 22.5}  # fmt: skip
    assert conversions[777]["name"] == "Goal 777"
    assert back["customData"] == {"3": ["pro", "bêta"]}
    assert [p["name"] for p in back["pages"]] == ["Home"]


def test_a_repeated_nonce_counts_once_and_shows_as_duplicate(
    client: httpx.Client, bearer: dict[str, str]
) -> None:
    code = unique("vc")
    line = conversion_line(nonce(unique("s"), "m", 0), 424242, 5) + visitor_suffix(code, None)
    before = client.get("/api/stats").json()["duplicates"]
    assert post_lines(client, bearer, [line]).status_code == 204
    assert post_lines(client, bearer, [line]).status_code == 204
    assert read_back(client, bearer, code)["conversions"][0]["count"] == 1
    assert client.get("/api/stats").json()["duplicates"] == before + 1
    outcomes = [
        e["outcome"] for e in client.get("/api/events", params={"q": code}).json()["events"]
    ]
    assert outcomes == ["duplicate", "accepted"]


def test_json_true_takes_an_array_of_events(client: httpx.Client, bearer: dict[str, str]) -> None:
    code = unique("vc")
    event = {"nonce": nonce(code, "m", 0), "eventType": "customData", "index": 7}
    events = [{**event, "valuesCountMap": '{"Acme":1}', "overwrite": "true", "visitorCode": code}]
    answer = client.post(f"{EVENTS}&json=true", content=orjson.dumps(events), headers=bearer)
    assert answer.status_code == 204, answer.text
    assert read_back(client, bearer, code)["customData"] == {"7": ["Acme"]}


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("nonce=abc&eventType=page&href=x&visitorCode=v", "nonce must be 16"),
        ("nonce=0123456789ABCDEF&eventType=page&href=x&visitorCode=" + "v" * 101, "visitorCode"),
        ("nonce=0123456789ABCDEF&eventType=conversion&goalId=x&visitorCode=v", "goalId"),
        ("nonce=0123456789ABCDEF&eventType=other&visitorCode=v", "eventType"),
    ],
)
def test_a_bad_line_refuses_the_whole_request_naming_it(
    client: httpx.Client, bearer: dict[str, str], line: str, words: str
) -> None:
    code = unique("vc")
    good = page_line(nonce(code, "m", 0), "https://x.test/", "T") + visitor_suffix(code, None)
    answer = post_lines(client, bearer, [good, line])
    assert answer.status_code == 400
    assert "line 2" in answer.json()["error"] and words in answer.json()["error"]
    assert read_back(client, bearer, code)["pages"] == []  # nothing of it was kept


def test_unknown_and_expired_tokens_are_refused(client: httpx.Client) -> None:
    code = unique("vc")
    line = page_line(nonce(code, "m", 0), "https://x.test/", None) + visitor_suffix(code, None)
    assert post_lines(client, {"authorization": "Bearer nope"}, [line]).status_code == 401
    assert post_lines(client, {}, [line]).status_code == 401
    assert client.post("/api/data-api", json={"token_ttl": 0.5}).status_code == 200
    try:
        short = {"authorization": f"Bearer {token(client).json()['access_token']}"}
        time.sleep(0.7)
        answer = post_lines(client, short, [line])
        assert answer.status_code == 401 and "expired" in answer.json()["error"]
    finally:
        client.post("/api/data-api", json={"token_ttl": 3600})


def test_a_sitecode_of_another_account_is_forbidden(
    client: httpx.Client, bearer: dict[str, str]
) -> None:
    answer = client.post("/visit/events?siteCode=other00001", content=b"", headers=bearer)
    assert answer.status_code == 403


def test_faults_apply_to_the_data_api(client: httpx.Client, bearer: dict[str, str]) -> None:
    code = unique("vc")
    line = page_line(nonce(code, "m", 0), "https://x.test/", None) + visitor_suffix(code, None)
    assert client.post("/api/faults", json={"error_rate": 1.0}).status_code == 200
    try:
        assert post_lines(client, bearer, [line]).status_code >= 500
    finally:
        client.delete("/api/faults")
    assert post_lines(client, bearer, [line]).status_code == 204


def test_a_refused_text_makes_its_request_a_400(
    client: httpx.Client, bearer: dict[str, str]
) -> None:
    code = unique("vc")
    line = page_line(nonce(code, "m", 0), "https://x.test/poison", None) + visitor_suffix(
        code, None
    )
    assert client.post("/api/data-api", json={"refuse": "poison"}).status_code == 200
    try:
        answer = post_lines(client, bearer, [line])
        assert answer.status_code == 400 and "refused" in answer.json()["error"]
    finally:
        client.post("/api/data-api", json={"refuse": None})
    assert post_lines(client, bearer, [line]).status_code == 204
