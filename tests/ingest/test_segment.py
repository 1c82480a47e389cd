"""The Tracking API's request shapes (pure): endpoint types, batch merging, limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kameleoon_relay.ingest.segment import ENDPOINT_TYPES, batch_events, single_event
from kameleoon_relay.web.body import MAX_BATCH_EVENTS, PayloadError


@pytest.mark.parametrize(("endpoint", "kind"), sorted(ENDPOINT_TYPES.items()))
def test_the_endpoint_sets_the_type_and_drops_the_write_key(endpoint: str, kind: str) -> None:
    [event] = single_event({"type": "bogus", "writeKey": "wk", "userId": "u"}, endpoint)
    assert event == {"type": kind, "userId": "u"}


def test_analytics_js_short_paths_cover_every_call() -> None:
    short = {k: v for k, v in ENDPOINT_TYPES.items() if len(k) == 1}
    assert short == {
        "t": "track",
        "p": "page",
        "s": "screen",
        "i": "identify",
        "g": "group",
        "a": "alias",
    }


def test_batch_context_and_integrations_fill_what_events_lack() -> None:
    payload = {
        "writeKey": "wk",
        "sentAt": "2024-01-01T00:00:10Z",
        "context": {"ip": "1.2.3.4", "locale": "fr"},
        "integrations": {"All": False},
        "batch": [
            {"type": "track", "event": "A", "context": {"locale": "de"}, "writeKey": "wk"},
            {"type": "page", "sentAt": "2024-01-01T00:00:05Z", "integrations": {"X": True}},
        ],
    }
    first, second = batch_events(payload)
    assert first == {
        "type": "track",
        "event": "A",
        "context": {"ip": "1.2.3.4", "locale": "de"},
        "integrations": {"All": False},
        "sentAt": "2024-01-01T00:00:10Z",
    }
    assert second["context"] == {"ip": "1.2.3.4", "locale": "fr"}
    assert second["integrations"] == {"All": False, "X": True}
    assert second["sentAt"] == "2024-01-01T00:00:05Z"  # its own sentAt wins


def test_a_batch_must_be_an_array_of_objects_within_limits() -> None:
    with pytest.raises(PayloadError, match="batch"):
        batch_events({"batch": {"type": "track"}})
    with pytest.raises(PayloadError, match=r"batch\[1\]"):
        batch_events({"batch": [{"type": "track"}, 3]})
    with pytest.raises(PayloadError, match="at most 2500"):
        batch_events({"batch": [{}] * (MAX_BATCH_EVENTS + 1)})
    with pytest.raises(PayloadError, match=r"batch\[0\] is too large"):
        batch_events({"batch": [{"type": "track", "event": "x" * 33_000}]})
    assert len(batch_events({"batch": [{}] * MAX_BATCH_EVENTS})) == MAX_BATCH_EVENTS


# What orjson.loads can produce: integers beyond 64 bits arrive as floats.
json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=5)
)
small_dict = st.dictionaries(st.text(max_size=4), json_leaf, max_size=4)


@given(shared=small_dict, own=st.one_of(st.none(), small_dict))
def test_an_events_own_context_always_wins(shared: dict, own: dict | None) -> None:
    item = {"type": "track"} if own is None else {"type": "track", "context": own}
    [event] = batch_events({"context": shared, "batch": [item]})
    assert event["context"] == {**shared, **(own or {})}
