"""Planning: classic bodies, call-type skips, filters in Segment's order, linking."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kameleoon_relay.config import ConfigError, parse_config
from kameleoon_relay.filters import sample_bucket
from kameleoon_relay.ingest import normalize_event
from kameleoon_relay.pipeline import Pipeline
from kameleoon_relay.pipeline.identity import NO_LINKING, IdentityMap, linking_of

SETTINGS = {"apiKey": "a2V5", "sitecode": "1q2w3e4r5t"}


def pipeline(*destinations: dict[str, Any]) -> Pipeline:
    return Pipeline(
        parse_config(
            {"sources": [{"name": "web", "write_key": "k"}], "destinations": list(destinations)}, {}
        )
    )


def classic(**extra: Any) -> dict[str, Any]:
    return {
        "name": "classic",
        "type": "kameleoon-classic",
        "settings": SETTINGS,
        "endpoint": "http://127.0.0.1:9/segmentio",
        **extra,
    }


def actions(**extra: Any) -> dict[str, Any]:
    return {
        "name": "actions",
        "type": "kameleoon-actions",
        "settings": SETTINGS,
        "endpoint": "http://127.0.0.1:9/segmentio",
        **extra,
    }


def event(**fields: Any) -> dict[str, Any]:
    return normalize_event({"userId": "u1", "timestamp": "2024-05-01T12:00:00.000Z", **fields})


def body(entry: Any) -> dict[str, Any]:
    return orjson.loads(entry.request.body)


def test_classic_screen_is_a_screenview_with_the_visitor_code() -> None:
    (entry,) = pipeline(classic()).plan(
        event(
            type="screen",
            name="Home",
            messageId="m1",
            properties={"k_visitorCode": "oa16i4syt2ve3b0z", "tab": 2},
        )
    )
    assert entry.action == "screen"
    assert body(entry) == {
        "userId": "u1",
        "name": "Home",
        "type": "screenview",
        "properties": {
            "k_visitorCode": "oa16i4syt2ve3b0z",
            "tab": 2,
            "kameleoonVisitorCode": "oa16i4syt2ve3b0z",
        },
        "timestamp": "2024-05-01T12:00:00.000Z",
        "messageId": "m1",
    }
    assert entry.request.headers["x-segment-settings"] == "1q2w3e4r5t"


def test_classic_visitor_code_falls_back_to_traits_then_user_id() -> None:
    plan = pipeline(classic())
    (from_traits,) = plan.plan(
        event(
            type="track",
            event="Buy",
            messageId="m",
            context={"traits": {"k_visitorCode": "vc-traits"}},
        )
    )
    assert body(from_traits)["properties"] == {"kameleoonVisitorCode": "vc-traits"}
    (from_user,) = plan.plan(event(type="page", name="Home", messageId="m"))
    assert body(from_user)["properties"] == {"kameleoonVisitorCode": "u1"}
    assert body(from_user)["type"] == "page"


@pytest.mark.parametrize("kind", ["identify", "group", "alias"])
def test_classic_skips_other_calls_as_filtered(kind: str) -> None:
    extra = {"groupId": "g"} if kind == "group" else {"previousId": "p"} if kind == "alias" else {}
    (entry,) = pipeline(classic()).plan(event(type=kind, **extra))
    assert entry.request is None and entry.filtered is not None
    assert kind in entry.filtered.reason


def test_classic_subscriptions_are_not_configurable() -> None:
    with pytest.raises(ConfigError, match="fixed subscriptions"):
        pipeline(classic(subscriptions=[]))


def test_filters_run_in_segments_order_whatever_the_config_order() -> None:
    plan = pipeline(
        actions(
            filters=[
                {"allow_properties": {"fields": ["properties.revenue", "properties.secret"]}},
                {"drop_properties": {"fields": ["properties.secret"]}},
                {"drop": 'event = "Debug"'},
            ]
        )
    )
    (entry,) = plan.plan(
        event(type="track", event="Buy", properties={"revenue": 5, "secret": "x", "email": "e"})
    )
    assert body(entry)["properties"] == {"revenue": 5}
    assert entry.removed_fields == {
        "drop_properties[1]": ["properties.secret"],
        "allow_properties[0]": ["properties.email"],
    }
    (dropped,) = plan.plan(event(type="track", event="Debug"))
    assert dropped.request is None and dropped.filtered.filter == "drop[2]"


def test_sampling_is_deterministic_by_message_id_and_conditional() -> None:
    plan = pipeline(actions(filters=[{"sample": {"percent": 30, "if": 'type = "page"'}}]))
    ids = [f"m{i}" for i in range(400)]
    kept = [i for i in ids if plan.plan(event(type="page", messageId=i))[0].filtered is None]
    assert kept == [i for i in ids if sample_bucket(i) < 30]
    assert 80 < len(kept) < 160
    # Not a page: the sample does not apply.
    assert all(plan.plan(event(type="track", event="E", messageId=i))[0].request for i in ids[:50])


def test_bad_filters_are_config_errors_with_paths() -> None:
    with pytest.raises(ConfigError) as raised:
        pipeline(actions(filters=[{"sample": {"percent": 150}}, {"drop": "(type = "}, {"nope": 1}]))
    text = "\n".join(raised.value.problems)
    assert "destinations[0].filters[0].sample.percent" in text
    assert "destinations[0].filters[1].drop" in text
    assert "destinations[0].filters[2]" in text


def linked_plan(plan: Pipeline, identities: IdentityMap, raw: dict[str, Any]) -> list[Any]:
    """Plan as the relay does: the event's linking intent first, then the plan."""
    linking = linking_of(raw) if plan.links_identities(None) else NO_LINKING
    return plan.plan(raw, linked_code=identities.apply(linking))


def test_identifier_links_ids_for_classic_by_default() -> None:
    plan, identities = pipeline(classic()), IdentityMap()
    identifier = event(
        type="track",
        event="Kameleoon identifier",
        anonymousId="a1",
        properties={"k_visitorCode": "vc-linked"},
    )
    assert linking_of(identifier).ids == ("userId:u1", "anonymousId:a1")
    assert linking_of(identifier).code == "vc-linked"
    linked_plan(plan, identities, identifier)
    (later,) = linked_plan(
        plan, identities, event(type="page", name="Cart", userId=None, anonymousId="a1")
    )
    assert body(later)["properties"]["kameleoonVisitorCode"] == "vc-linked"


def test_actions_links_only_when_opted_in() -> None:
    (plain,) = pipeline(actions()).plan(event(type="track", event="Buy"), linked_code="vc-linked")
    assert "kameleoonVisitorCode" not in body(plain)["properties"]
    assert not pipeline(actions()).links_identities(None)
    opted = pipeline(actions(identity_linking=True))
    assert opted.links_identities("web")
    (linked,) = opted.plan(event(type="track", event="Buy"), linked_code="vc-linked")
    assert body(linked)["properties"] == {"kameleoonVisitorCode": "vc-linked"}
    (traits,) = opted.plan(event(type="identify", traits={"plan": "pro"}), linked_code="vc-linked")
    assert body(traits)["properties"] == {"plan": "pro", "kameleoonVisitorCode": "vc-linked"}


def test_an_event_carrying_its_code_needs_no_lookup() -> None:
    carried = event(type="track", event="Buy", properties={"kameleoonVisitorCode": "own"})
    assert linking_of(carried).lookup is False
    assert linking_of(event(type="track", event="Buy")).lookup is True
    assert linking_of({"type": "track", "event": "Buy"}).ids == ()


def test_conflicting_links_keep_the_newest_and_are_counted() -> None:
    plan, identities = pipeline(classic()), IdentityMap()
    for code in ("vc-1", "vc-2"):
        linked_plan(
            plan,
            identities,
            event(type="track", event="Kameleoon identifier", properties={"k_visitorCode": code}),
        )
    assert identities.conflicts == 1
    assert identities.apply(linking_of(event(type="page", name="x"))) == "vc-2"


def test_engage_audience_identify_keeps_its_traits() -> None:
    identify = event(
        type="identify",
        traits={"order_completed_last_30_days": True},
        context={
            "personas": {
                "computation_class": "audience",
                "computation_key": "order_completed_last_30_days",
            }
        },
    )
    (entry,) = pipeline(actions()).plan(identify)
    assert body(entry)["properties"] == {"order_completed_last_30_days": True}


def test_both_destinations_side_by_side_for_migration() -> None:
    preview = pipeline(classic(), actions()).preview(
        event(type="track", event="Buy", properties={"kameleoonVisitorCode": "vc"})
    )
    assert [d["destination"] for d in preview["deliveries"]] == ["classic", "actions"]
    assert all(
        d["request"]["headers"]["authorization"] == "Basic ***" for d in preview["deliveries"]
    )


def test_a_trigger_the_reference_throws_on_is_an_error_not_a_skip() -> None:
    plan = pipeline(
        actions(
            subscriptions=[
                {"name": "odd", "trigger": 'type = "track" and ()', "action": "logEvent"},
            ]
        )
    )
    (entry,) = plan.plan(event(type="track", event="Buy"))
    assert entry.request is None and entry.error.type == "TriggerError"
    assert plan.plan(event(type="page", name="Home")) == []  # `and` short-circuits first


def test_drop_properties_copies_only_along_the_dropped_paths() -> None:
    plan = pipeline(
        actions(
            filters=[
                {"drop_properties": {"fields": ["properties.a", "properties.a.b", "context.ip"]}}
            ]
        )
    )
    original = event(
        type="track",
        event="E",
        properties={"a": {"b": 1}, "c": 2},
        context={"ip": "1.2.3.4", "page": {"path": "/"}},
    )
    (entry,) = plan.plan(original)
    assert body(entry)["properties"] == {"c": 2}
    assert body(entry)["context"] == {"page": {"path": "/"}}
    assert original["properties"] == {"a": {"b": 1}, "c": 2}  # the event itself is untouched
    assert entry.removed_fields == {"drop_properties[0]": ["properties.a", "context.ip"]}
