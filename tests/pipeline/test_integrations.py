"""The `integrations` object, as Segment documents it (guides/filtering-data), per
destination: `All` defaults true, a key naming the destination overrides it, `false`
turns it off, `true` or an object turns it on, and keys are case-sensitive."""

from __future__ import annotations

from typing import Any

import pytest

from kameleoon_relay.destinations import DESTINATION_TYPES
from tests.helpers.oracle import ORACLE_DIR
from tests.pipeline.test_pipeline import actions, classic, event, pipeline

ACTION_DESTINATIONS = ORACLE_DIR / "node_modules/@segment/action-destinations"

# (integrations object, reaches the Actions destination, reaches the classic one)
CASES: list[tuple[Any, bool, bool]] = [
    (None, True, True),
    ({}, True, True),
    ({"All": True}, True, True),
    ({"All": False}, False, False),
    ({"Kameleoon": False, "Actions Kameleoon": False}, False, False),
    ({"Kameleoon": False}, True, False),
    ({"Kameleoon (Actions)": False}, False, True),
    ({"Actions Kameleoon": False}, False, True),
    ({"All": False, "Kameleoon (Actions)": True}, True, False),
    ({"All": False, "Actions Kameleoon": {"anything": 1}}, True, False),
    ({"All": False, "Kameleoon": {}}, False, True),
    ({"All": False, "Kameleoon": True, "Actions Kameleoon": True}, True, True),
    # Case-sensitive: these name nothing.
    ({"kameleoon": False, "actions kameleoon": False}, True, True),
    ({"All": False, "KAMELEOON": True}, False, False),
    # The configured `name` counts as the destination's name too.
    ({"actions": False}, False, True),
    ({"All": False, "classic": True}, False, True),
    # One key of a destination false wins over another true (consent: doubt keeps it back).
    ({"Kameleoon (Actions)": True, "Actions Kameleoon": False}, False, True),
    # null is absent (a non-object `integrations` is refused at ingest, as a Spec error).
    ({"All": False, "Kameleoon": None}, False, False),
]


@pytest.mark.parametrize(("integrations", "to_actions", "to_classic"), CASES)
def test_integrations_object_per_destination(
    integrations: Any, to_actions: bool, to_classic: bool
) -> None:
    fields: dict[str, Any] = {"type": "track", "event": "Signed Up", "messageId": "m1"}
    if integrations is not None:
        fields["integrations"] = integrations
    planned = pipeline(actions(), classic()).plan(event(**fields))
    reached = {entry.destination for entry in planned if entry.request is not None}
    expected = {"actions": to_actions, "classic": to_classic}
    assert reached == {name for name, on in expected.items() if on}
    for entry in planned:
        if entry.request is None:
            assert entry.filtered is not None and entry.filtered.filter == "integrations"
            assert "integrations" in entry.filtered.reason


def test_the_reason_names_the_key() -> None:
    (entry,) = pipeline(actions()).plan(
        event(type="track", event="X", messageId="m1", integrations={"Actions Kameleoon": False})
    )
    assert entry.filtered is not None
    assert entry.filtered.reason == 'integrations["Actions Kameleoon"] is false'
    (entry,) = pipeline(actions()).plan(
        event(type="track", event="X", messageId="m1", integrations={"All": False})
    )
    assert entry.filtered is not None
    assert entry.filtered.reason.startswith("integrations.All is false")
    assert '"Kameleoon (Actions)", "Actions Kameleoon", "actions"' in entry.filtered.reason


def test_preview_shows_the_integrations_filter() -> None:
    preview = pipeline(actions(), classic()).preview(
        event(type="track", event="X", messageId="m1", integrations={"Kameleoon": False})
    )
    by_destination = {entry["destination"]: entry for entry in preview["deliveries"]}
    assert by_destination["classic"]["filtered"] == {
        "filter": "integrations",
        "reason": 'integrations["Kameleoon"] is false',
    }
    assert "request" in by_destination["actions"]


def test_catalog_names_are_data_on_each_destination_type() -> None:
    """The names Segment's docs give ("Refer to it as ... in the Integrations object"),
    the Actions one also being `name` in @segment/action-destinations' metadata."""
    metadata = (ACTION_DESTINATIONS / "dist/destinations/kameleoon/index.js").read_text()
    assert "name: 'Kameleoon (Actions)'," in metadata
    assert DESTINATION_TYPES["kameleoon-actions"].catalog_names == (
        "Kameleoon (Actions)",
        "Actions Kameleoon",
    )
    assert DESTINATION_TYPES["kameleoon-classic"].catalog_names == ("Kameleoon",)
    for kind, definition in DESTINATION_TYPES.items():
        assert definition.catalog_names, f"{kind} declares no catalog name"
