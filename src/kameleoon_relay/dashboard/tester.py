"""The event tester: which subscriptions match an event, what each would send, and
(optionally) what the destination answers. Requests are shown with the API key masked;
answers are scrubbed of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from kameleoon_relay.fql import FQLEvaluationError
from kameleoon_relay.ingest import normalize_event
from kameleoon_relay.pipeline.identity import linking_of
from kameleoon_relay.secrets import scrub, secrets_in
from kameleoon_relay.web.state import RelayState

RESPONSE_CHARS = 2000


async def run(
    relay: RelayState, raw: dict[str, Any], source: str | None, send: bool, timeout: float = 10.0
) -> dict[str, Any]:
    """Raises SpecError for an event that breaks the Segment Spec."""
    event = normalize_event(raw, datetime.now(UTC))
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
            if send and entry.request is not None:
                shown["response"] = await _send(entry.request, timeout)
            entries.append(shown)
        destinations.append({"name": name, "subscriptions": matches, "deliveries": entries})
    return {"event": event, "destinations": destinations, "sent": send}


async def _send(request: Any, timeout: float) -> dict[str, Any]:
    secrets = secrets_in(request.headers)
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
    except httpx.HTTPError as exc:
        return {"error": type(exc).__name__}
    return {"status": response.status_code, "body": scrub(response.text[:RESPONSE_CHARS], secrets)}
