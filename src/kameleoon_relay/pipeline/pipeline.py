"""Route an event through every destination its source feeds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kameleoon_relay.actions import ActionError, HttpRequest, PayloadValidationError
from kameleoon_relay.config.model import Config
from kameleoon_relay.pipeline.compile import CompiledDestination, compile_destination
from kameleoon_relay.secrets import mask_request


@dataclass(frozen=True)
class PlannedDelivery:
    """One matching subscription's outcome: a request to send, or why there is none."""

    destination: str
    subscription: str
    action: str
    request: HttpRequest | None = None
    error: ActionError | None = None

    def to_dict(self, reveal_secrets: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "destination": self.destination,
            "subscription": self.subscription,
            "action": self.action,
        }
        if self.request is not None:
            shown = self.request.to_dict()
            entry["request"] = shown if reveal_secrets else mask_request(shown)
        if self.error is not None:
            entry["error"] = self.error.to_dict()
        return entry


class Pipeline:
    """Compiled once per config; `plan` is called per event."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.destinations: tuple[CompiledDestination, ...] = tuple(
            compile_destination(destination)
            for destination in config.destinations
            if destination.enabled
        )

    def plan(self, event: dict[str, Any], source: str | None = None) -> list[PlannedDelivery]:
        """One entry per enabled subscription whose trigger matches, in config order."""
        planned: list[PlannedDelivery] = []
        for destination in self.destinations:
            if not destination.config.feeds_from(source):
                continue
            name = destination.config.name
            for subscription in destination.subscriptions:
                if not subscription.matches(event):
                    continue
                try:
                    request = subscription.build_request(event)
                except PayloadValidationError as error:
                    planned.append(
                        PlannedDelivery(
                            name,
                            subscription.name,
                            subscription.action,
                            error=ActionError(error.error_type, str(error)),
                        )
                    )
                    continue
                except (ValueError, TypeError) as error:
                    planned.append(
                        PlannedDelivery(
                            name,
                            subscription.name,
                            subscription.action,
                            error=ActionError("MappingError", str(error)),
                        )
                    )
                    continue
                planned.append(
                    PlannedDelivery(name, subscription.name, subscription.action, request=request)
                )
        return planned

    def preview(
        self, event: dict[str, Any], source: str | None = None, reveal_secrets: bool = False
    ) -> dict[str, Any]:
        """The event tester: what each destination would receive for `event`."""
        return {
            "messageId": event.get("messageId"),
            "deliveries": [entry.to_dict(reveal_secrets) for entry in self.plan(event, source)],
        }


def send_event(
    pipeline: Pipeline, event: dict[str, Any], source: str | None = None, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Plan `event` and send each request now (blocking, no queue, no retries).

    For embedding and scripts; the relay itself queues and retries. Returns one
    entry per planned delivery with `status` and `response` (or `error`).
    """
    import httpx

    results: list[dict[str, Any]] = []
    with httpx.Client(timeout=timeout) as client:
        for entry in pipeline.plan(event, source):
            shown = entry.to_dict()
            if entry.request is not None:
                request = entry.request
                try:
                    response = client.request(
                        request.method, request.url, headers=request.headers, content=request.body
                    )
                    shown["status"] = response.status_code
                    shown["response"] = response.text[:2000]
                except httpx.HTTPError as error:
                    shown["error"] = {"type": type(error).__name__, "message": str(error)}
            results.append(shown)
    return results
