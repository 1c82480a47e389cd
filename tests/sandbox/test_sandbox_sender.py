"""The sandbox's "Sent by": decided from what a request says, never guessed (issue 19,
defect 5). Both destinations into one sandbox: tests/e2e/test_dashboard_debugging.py."""

from __future__ import annotations

from kameleoon_relay.destinations.kameleoon_actions.request import ACTIONS_USER_AGENT
from kameleoon_relay.destinations.kameleoon_classic.destination import CLASSIC_USER_AGENT
from kameleoon_relay.sandbox.tracker import sender_of

CODE = {"k_visitorCode": "vc", "kameleoonVisitorCode": "vc"}


def test_the_user_agent_says_which_destination() -> None:
    track = {"type": "track", "event": "E", "properties": CODE}
    assert sender_of(ACTIONS_USER_AGENT, track) == "actions · kameleoon-relay"
    assert sender_of(CLASSIC_USER_AGENT, track) == "classic · kameleoon-relay"
    assert sender_of("Segment (Actions)", track) == "actions · Segment"
    # The user-agent wins over a shape: it is what the sender says of itself.
    assert sender_of(ACTIONS_USER_AGENT, {"type": "screenview"}).startswith("actions")


def test_a_type_only_one_destination_sends() -> None:
    assert sender_of("curl/8.0", {"type": "screenview"}) == "classic · curl"
    assert sender_of("curl/8.0", {"type": "identify"}) == "actions · curl"
    assert sender_of(None, {"type": "group"}) == "actions · unknown client"


def test_nothing_is_guessed_from_properties() -> None:
    track = {"type": "track", "event": "E", "properties": CODE}
    assert sender_of("python-httpx/0.27", track) == "unknown · python-httpx"
    assert sender_of("python-httpx/0.27", "not an object") == "unknown · python-httpx"
