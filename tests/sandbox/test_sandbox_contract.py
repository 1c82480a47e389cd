"""The endpoint contract and Kameleoon's behaviour, over HTTP to a real sandbox process."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.sandbox.support import DEMO_SITECODE, post_event, track, unique


def visitor(client: httpx.Client, code: str) -> dict:
    response = client.get(f"/api/visitors/{code}")
    assert response.status_code == 200, response.text
    return response.json()


def goals(client: httpx.Client) -> dict[str, dict]:
    return {g["name"]: g for g in client.get("/api/goals").json()["goals"]}


# -- auth and body validation ------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer whatever",
        "Basic not-base64!!",
        "Basic " + base64.b64encode(b'{"id":"demo","secret":"wrong"}').decode(),
        "Basic " + base64.b64encode(b'["demo"]').decode(),
    ],
)
def test_unknown_api_key_is_401_with_json_error(client: httpx.Client, authorization) -> None:
    headers = {"x-segment-settings": DEMO_SITECODE}
    if authorization:
        headers["authorization"] = authorization
    response = client.post("/segmentio", json=track("Order Completed", userId="u"), headers=headers)
    assert response.status_code == 401
    assert "API key" in response.json()["error"]


def test_unknown_sitecode_is_403(client: httpx.Client) -> None:
    response = post_event(client, track("Order Completed", userId="u"), sitecode="othersite1")
    assert response.status_code == 403
    assert response.json()["status"] == 403


def test_api_key_spacing_does_not_matter(client: httpx.Client) -> None:
    # The setting is base64 of a JSON object; how the JSON was spaced is irrelevant.
    spaced = base64.b64encode(b'{ "id": "demo", "secret": "demo" }').decode()
    response = post_event(client, track("Order Completed", userId=unique("u")), api_key=spaced)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"text"', "JSON object"),
        (b'{"event": "x", "userId": "u"}', "type"),
        (b'{"type": "track", "userId": "u"}', "event"),
        (b'{"type": "track", "event": "x"}', "no visitor"),
        (b'{"type": "group", "userId": "u"}', "groupId"),
        (b'{"type": "track", "event": "x", "userId": "u", "properties": [1]}', "properties"),
    ],
)
def test_unusable_body_is_400(client: httpx.Client, body: bytes, message: str) -> None:
    response = post_event(client, body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_getapikey_checks_the_key_entries(client: httpx.Client) -> None:
    ok = client.get("/segmentio/getapikey", params={"id": "demo", "secret": "demo"})
    assert ok.status_code == 200
    assert ok.json()["sitecodes"] == [DEMO_SITECODE]
    bad = client.get("/segmentio/getapikey", params={"id": "demo", "secret": "nope"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid credentials"


# -- goals -------------------------------------------------------------------------------


def test_event_named_like_a_goal_converts_it(client: httpx.Client) -> None:
    code = unique("vc")
    before = goals(client)["Order Completed"]["conversions"]
    response = post_event(
        client, track("Order Completed", properties={"kameleoonVisitorCode": code, "total": 9})
    )
    assert response.status_code == 200
    assert response.json()["goal"] == "Order Completed"
    assert goals(client)["Order Completed"]["conversions"] == before + 1
    assert visitor(client, code)["goals"] == {"Order Completed": 1}


def test_other_event_creates_custom_goal_once(client: httpx.Client) -> None:
    event = unique("Clicked Button")
    first = post_event(client, track(event, userId=unique("u")))
    second = post_event(client, track(event, userId=unique("u")))
    assert first.json()["goal"] == second.json()["goal"] == f"SegmentIO track - {event}"
    assert (first.json()["goal_created"], second.json()["goal_created"]) == (True, False)
    goal = goals(client)[f"SegmentIO track - {event}"]
    assert goal["custom"] is True
    assert (goal["conversions"], goal["visitors"]) == (2, 2)
    names = [g["name"] for g in client.get("/api/goals").json()["goals"]]
    assert names.count(f"SegmentIO track - {event}") == 1


def test_custom_goal_uses_the_body_type(client: httpx.Client) -> None:
    event = unique("Shared")
    response = post_event(client, {"type": "alias", "event": event, "userId": unique("u")})
    assert response.json()["goal"] == f"SegmentIO alias - {event}"


def test_classic_k_visitor_code_identifies_the_visitor(client: httpx.Client) -> None:
    code = unique("kv")
    post_event(client, track("Signed Up", userId=unique("u"), properties={"k_visitorCode": code}))
    assert visitor(client, code)["goals"] == {"Signed Up": 1}


def test_visitor_falls_back_to_user_id_then_anonymous_id(client: httpx.Client) -> None:
    user, anonymous = unique("user"), unique("anon")
    assert (
        post_event(client, track("Signed Up", userId=user, anonymousId=anonymous)).json()["visitor"]
        == user
    )
    assert post_event(client, track("Signed Up", anonymousId=anonymous)).json()["visitor"] == (
        anonymous
    )
    assert client.get(f"/api/visitors/{unique('nobody')}").status_code == 404


# -- identity linking --------------------------------------------------------------------


def test_kameleoon_identifier_links_user_and_anonymous_ids(client: httpx.Client) -> None:
    code, user, anonymous = unique("vc"), unique("user"), unique("anon")
    link = track("Kameleoon identifier", userId=user, anonymousId=anonymous)
    link["properties"] = {"k_visitorCode": code}
    assert post_event(client, link).json()["outcome"] == "linked"

    post_event(client, track("Order Completed", userId=user))
    post_event(client, track("Order Completed", anonymousId=anonymous))
    post_event(client, {"type": "page", "name": "Cart", "anonymousId": anonymous})

    linked = visitor(client, code)
    assert linked["goals"] == {"Order Completed": 2}
    assert [v["name"] for v in linked["views"]] == ["Cart"]
    assert {(i["kind"], i["id"]) for i in linked["linked_ids"]} == {
        ("userId", user),
        ("anonymousId", anonymous),
    }
    assert client.get(f"/api/visitors/{user}").status_code == 404
    assert "Kameleoon identifier" not in str(goals(client))


def test_identifier_without_code_is_rejected(client: httpx.Client) -> None:
    response = post_event(client, track("Kameleoon identifier", userId=unique("u")))
    assert response.status_code == 400


# -- views, traits, audiences ------------------------------------------------------------


def test_page_and_screenview_are_views_not_goals(client: httpx.Client) -> None:
    code = unique("vc")
    props = {"kameleoonVisitorCode": code}
    for body in (
        {"type": "page", "name": "Home", "properties": props},
        {"type": "page", "name": "Home", "properties": props},
        {"type": "screenview", "name": "Settings", "properties": props},
    ):
        assert post_event(client, {**body, "messageId": unique("m")}).json()["outcome"] == "viewed"
    seen = visitor(client, code)
    assert {(v["kind"], v["name"], v["count"]) for v in seen["views"]} == {
        ("page", "Home", 2),
        ("screen", "Settings", 1),
    }
    assert seen["goals"] == {}
    assert not any("Home" in name for name in goals(client))


def test_identify_traits_and_engage_audiences(client: httpx.Client) -> None:
    code = unique("vc")
    traits = {"kameleoonVisitorCode": code, "plan": "pro", "seats": 3}
    post_event(client, {"type": "identify", "userId": "u", "properties": traits})
    post_event(
        client,
        {"type": "identify", "properties": {"kameleoonVisitorCode": code, "vip_buyers": True}},
    )
    post_event(
        client,
        {"type": "identify", "properties": {"kameleoonVisitorCode": code, "vip_buyers": False}},
    )
    seen = visitor(client, code)
    assert seen["traits"] == {"plan": "pro", "seats": 3}
    assert seen["audiences"] == {"vip_buyers": False}


def test_group_traits_become_custom_data(client: httpx.Client) -> None:
    code = unique("vc")
    body = {
        "type": "group",
        "groupId": "acme",
        "properties": {"kameleoonVisitorCode": code, "industry": "retail"},
    }
    assert post_event(client, body).status_code == 200
    assert visitor(client, code)["groups"] == {"acme": {"industry": "retail"}}


# -- duplicates, events, stats -----------------------------------------------------------


def test_duplicate_message_id_is_counted_not_converted(client: httpx.Client) -> None:
    code = unique("vc")
    body = track("Order Completed", properties={"kameleoonVisitorCode": code})
    stats = client.get("/api/stats").json()
    first, again = post_event(client, body), post_event(client, body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["outcome"] == "duplicate"
    assert visitor(client, code)["goals"] == {"Order Completed": 1}
    after = client.get("/api/stats").json()
    assert after["duplicates"] == stats["duplicates"] + 1
    assert after["accepted"] == stats["accepted"] + 1
    assert after["received"] == stats["received"] + 2


def test_events_list_newest_first_with_message_ids(client: httpx.Client) -> None:
    bodies = [track("Order Completed", userId=unique("u")) for _ in range(3)]
    for body in bodies:
        post_event(client, body)
    events = client.get("/api/events", params={"limit": 3}).json()["events"]
    assert [e["messageId"] for e in events] == [b["messageId"] for b in reversed(bodies)]
    assert events[0]["body"] == bodies[-1]
    assert client.get("/api/events", params={"limit": "x"}).status_code == 400


def test_stats_count_rejections(client: httpx.Client) -> None:
    before = client.get("/api/stats").json()
    post_event(client, b"nope")
    post_event(client, track("x", userId="u"), api_key="bad")
    after = client.get("/api/stats").json()
    assert after["rejected"] == before["rejected"] + 2
    assert after["received"] == before["received"] + 2


def test_arrivals_list_each_users_message_ids_in_first_arrival_order(
    client: httpx.Client,
) -> None:
    user, anonymous = unique("user"), unique("anon")
    first = track("Step", userId=user, anonymousId=anonymous)
    events = [
        first,
        track("Step", anonymousId=anonymous),  # no userId: keyed by its anonymousId
        track("Step", userId=user),
        first,  # a duplicate keeps its first place
    ]
    for event in events:
        assert post_event(client, event).status_code == 200
    post_event(client, b"not json")  # rejected: not an arrival
    answer = client.get("/api/arrivals").json()
    users = answer["users"]
    assert users[user] == [first["messageId"], events[2]["messageId"]]
    assert users[anonymous] == [events[1]["messageId"]]
    assert answer["at"] == sorted(answer["at"]) and len(answer["at"]) >= 3
