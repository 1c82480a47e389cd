"""Route an event through every destination its source feeds.

Per destination: the event's `integrations` object, the call types it handles,
its filters (Sample, Drop, Drop Properties, Allow Properties), visitor-code
linking, then each subscription's trigger, mapping, payload validation and request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kameleoon_relay.actions import (
    ActionFailure,
    ActionSkipped,
    HttpRequest,
    PayloadValidationError,
)
from kameleoon_relay.config.model import Config
from kameleoon_relay.filters import Dropped
from kameleoon_relay.fql import FQLEvaluationError
from kameleoon_relay.pipeline.compile import CompiledDestination, compile_destination
from kameleoon_relay.pipeline.identity import carried_code, with_code
from kameleoon_relay.pipeline.integrations import integrations_refusal
from kameleoon_relay.secrets import mask_request


# Slotted, not frozen: one is built per event and subscription, and a frozen dataclass
# costs three times as much to build. Treat instances as read-only all the same.
@dataclass(slots=True)
class PlannedDelivery:
    """One outcome for a destination: a request to send, why there is none
    (`error`), or the filter that removed the event (`filtered`, no subscription)."""

    destination: str
    subscription: str | None
    action: str | None
    request: HttpRequest | None = None
    error: ActionFailure | None = None
    filtered: Dropped | None = None
    removed_fields: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self, reveal_secrets: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {"destination": self.destination}
        if self.subscription is not None:
            entry["subscription"] = self.subscription
            entry["action"] = self.action
        if self.request is not None:
            shown = self.request.to_dict()
            entry["request"] = shown if reveal_secrets else mask_request(shown)
        if self.error is not None:
            entry["error"] = self.error.to_dict()
        if self.filtered is not None:
            entry["filtered"] = self.filtered.to_dict()
        if self.removed_fields:
            entry["removed_fields"] = self.removed_fields
        return entry


_FEEDING_CACHE = 1024


class Pipeline:
    """Compiled once per config; `plan` is called per event."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.destinations: tuple[CompiledDestination, ...] = tuple(
            compile_destination(destination)
            for destination in config.destinations
            if destination.enabled
        )
        self._by_name = {d.config.name: d for d in self.destinations}
        self._feeding: dict[str | None, tuple[CompiledDestination, ...]] = {}

    def feeding(self, source: str | None) -> tuple[CompiledDestination, ...]:
        """The enabled destinations that events of `source` go to, in config order."""
        found = self._feeding.get(source)
        if found is None:
            found = tuple(d for d in self.destinations if d.config.feeds_from(source))
            if len(self._feeding) < _FEEDING_CACHE:  # sources are few; a caller may not be
                self._feeding[source] = found
        return found

    def links_identities(self, source: str | None) -> bool:
        """Whether a destination fed by `source` links visitor codes to user ids."""
        return any(d.identity_linking for d in self.feeding(source))

    def plan(
        self, event: dict[str, Any], source: str | None = None, linked_code: str | None = None
    ) -> list[PlannedDelivery]:
        """One entry per matching subscription (or filtered destination), in config order.

        `linked_code` is the visitor code linked to the event's ids (see `identity`);
        destinations that link identities use it when the event carries no code.
        """
        planned: list[PlannedDelivery] = []
        for destination in self.feeding(source):
            planned.extend(self._plan_destination(destination, event, linked_code))
        return planned

    def plan_for(
        self, destination: str, event: dict[str, Any], linked_code: str | None = None
    ) -> list[PlannedDelivery]:
        """`plan` for one destination; KeyError when it is not (or no longer) enabled."""
        return self._plan_destination(self._by_name[destination], event, linked_code)

    def _plan_destination(
        self,
        destination: CompiledDestination,
        event: dict[str, Any],
        linked_code: str | None,
    ) -> list[PlannedDelivery]:
        name = destination.config.name
        if "integrations" in event:
            refusal = integrations_refusal(event, destination.integration_names)
            if refusal is not None:
                dropped = Dropped("integrations", refusal)
                return [PlannedDelivery(name, None, None, filtered=dropped)]
        handles = destination.definition.handles_only
        if handles is not None and event.get("type") not in handles:
            reason = (
                f"{destination.config.type} sends only {', '.join(handles)} calls, "
                f"not {event.get('type')}"
            )
            return [PlannedDelivery(name, None, None, filtered=Dropped("call type", reason))]
        removed: dict[str, list[str]] = {}
        if destination.filters:
            result = destination.filters.apply(event)
            if result.event is None:
                return [PlannedDelivery(name, None, None, filtered=result.dropped)]
            event, removed = result.event, result.removed
        if destination.identity_linking and linked_code and not carried_code(event):
            event = _with_linked_code(event, linked_code, destination.definition.linked_code_key)
        planned = []
        for subscription in destination.subscriptions:
            try:
                if not subscription.matches(event):
                    continue
            except FQLEvaluationError as error:
                # Where Segment's validate throws, it fails the call for this subscription.
                planned.append(
                    PlannedDelivery(
                        name,
                        subscription.name,
                        subscription.action,
                        error=ActionFailure("TriggerError", str(error)),
                    )
                )
                continue
            try:
                request = subscription.build_request(event)
            except ActionSkipped as skipped:
                # Nothing to send for this event (no goal id): filtered, with why.
                planned.append(
                    PlannedDelivery(
                        name,
                        subscription.name,
                        subscription.action,
                        filtered=Dropped(skipped.filter_name, skipped.reason),
                        removed_fields=removed,
                    )
                )
                continue
            except PayloadValidationError as error:
                failure = ActionFailure(error.error_type, str(error))
            except (ValueError, TypeError) as error:
                failure = ActionFailure("MappingError", str(error))
            else:
                planned.append(
                    PlannedDelivery(
                        name,
                        subscription.name,
                        subscription.action,
                        request=request,
                        removed_fields=removed,
                    )
                )
                continue
            planned.append(
                PlannedDelivery(
                    name,
                    subscription.name,
                    subscription.action,
                    error=failure,
                    removed_fields=removed,
                )
            )
        return planned

    def preview(
        self,
        event: dict[str, Any],
        source: str | None = None,
        reveal_secrets: bool = False,
        linked_code: str | None = None,
    ) -> dict[str, Any]:
        """The event tester: what each destination would receive for `event`."""
        planned = self.plan(event, source, linked_code)
        return {
            "messageId": event.get("messageId"),
            "deliveries": [entry.to_dict(reveal_secrets) for entry in planned],
        }


def _with_linked_code(event: dict[str, Any], code: str, key: str) -> dict[str, Any]:
    """Put the code where the destination's default mappings look for it."""
    kind = event.get("type")
    uses_traits = kind in ("identify", "group") or (
        key == "kameleoonVisitorCode" and "properties" not in event and "traits" in event
    )
    return with_code(event, code, "traits" if uses_traits else "properties", key)
