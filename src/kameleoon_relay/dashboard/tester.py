"""The event tester: which subscriptions match an event, what each would send, and
(optionally) what the destination answers. Requests are shown with the API key masked;
answers are scrubbed of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from kameleoon_relay.config.model import DestinationConfig
from kameleoon_relay.delivery.tokens import TokenError, needs_token, with_fresh_token
from kameleoon_relay.destinations.kameleoon_actions.request import visitor_warning
from kameleoon_relay.fql import FQLEvaluationError
from kameleoon_relay.ingest import normalize_event
from kameleoon_relay.ingest.timestamps import parse_utc
from kameleoon_relay.pipeline.identity import linking_of
from kameleoon_relay.secrets import scrub, secrets_in
from kameleoon_relay.web.state import RelayState

RESPONSE_CHARS = 2000


async def run(
    relay: RelayState, raw: dict[str, Any], source: str | None, send: bool, timeout: float = 10.0
) -> dict[str, Any]:
    """Raises SpecError for an event that breaks the Segment Spec."""
    event = _normalized(raw)
    pipeline = relay.pipeline
    code = None
    linking = linking_of(event) if pipeline.links_identities(source) else None
    if linking is not None and linking.lookup:
        code = await relay.store.linked_code(list(linking.ids))
    destinations = []
    for destination in pipeline.feeding(source):
        name = destination.config.name
        matches = []
        for sub in destination.subscriptions:
            try:
                matched: bool | str = bool(sub.matches(event))
            except FQLEvaluationError as exc:
                matched = f"error: {exc}"
            matches.append({"name": sub.name, "action": sub.action, "matched": matched})
        planned = pipeline.plan_for(name, event, code)
        entries = []
        for entry in planned:
            shown = entry.to_dict()
            warning = visitor_warning((shown.get("request") or {}).get("json"))
            if warning:
                shown["warnings"] = [warning]
            if send and entry.request is not None:
                shown["response"] = await _send(entry.request, destination.config, timeout)
            entries.append(shown)
        destinations.append({"name": name, "subscriptions": matches, "deliveries": entries})
    return {"event": event, "destinations": destinations, "sent": send}


def _normalized(raw: dict[str, Any]) -> dict[str, Any]:
    """As ingest stores it. A stored event (it has a receivedAt) was normalized already:
    its timestamp is skew-corrected, so it is kept as it is (correcting it again against
    its sentAt and now would move it), and so is its receivedAt."""
    received = raw.get("receivedAt")
    if not isinstance(received, str):
        return normalize_event(raw, datetime.now(UTC))
    try:
        at = parse_utc(received)
    except (ValueError, OverflowError):
        return normalize_event(raw, datetime.now(UTC))
    unsent = {k: v for k, v in raw.items() if k != "sentAt"}
    event = normalize_event(unsent, at)
    if "sentAt" in raw:
        event["sentAt"] = raw["sentAt"]
    return event


async def _send(request: Any, destination: DestinationConfig, timeout: float) -> dict[str, Any]:
    if needs_token(destination):
        try:
            request = await with_fresh_token(request, destination, timeout)
        except TokenError as exc:
            return {"error": str(exc)}
    secrets = secrets_in(request.headers)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
    except httpx.HTTPError as exc:
        return {"error": type(exc).__name__}
    return {"status": response.status_code, "body": scrub(response.text[:RESPONSE_CHARS], secrets)}
