"""One delivery attempt: send the stored request, judge the answer, decide what comes next."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import orjson

from kameleoon_relay.delivery.policy import (
    RetryPolicy,
    Verdict,
    classify_error,
    classify_status,
    describe_error,
    parse_retry_after,
)
from kameleoon_relay.secrets import scrub, secrets_in
from kameleoon_relay.store.models import AttemptOutcome, DeliveryRecord

SAMPLE_CHARS = 1024  # enough to read an error message, small enough to keep for every row
REASON_BODY_CHARS = 200


def build_request(client: httpx.AsyncClient, request: dict[str, Any]) -> httpx.Request:
    """An httpx request from a stored one: `body` (the exact text the action built) is
    sent verbatim; a bare `json` is serialised compactly, as JSON.stringify would."""
    headers = dict(request.get("headers") or {})
    content: bytes | None = None
    if request.get("body") is not None:
        content = request["body"].encode()
    elif request.get("json") is not None:
        content = orjson.dumps(request["json"])
    if content is not None and not any(name.lower() == "content-type" for name in headers):
        headers["content-type"] = "application/json"
    return client.build_request(
        request.get("method", "POST"), request["url"], headers=headers, content=content
    )


async def attempt(
    client: httpx.AsyncClient,
    record: DeliveryRecord,
    policy: RetryPolicy,
    timeout: float | None = None,
    rng: random.Random | None = None,
) -> AttemptOutcome:
    secrets = secrets_in(record.request.get("headers") or {})
    started = time.monotonic()
    status: int | None = None
    sample: str | None = None
    retry_after: float | None = None
    try:
        response = await client.send(build_request(client, record.request))
    except httpx.HTTPError as exc:
        verdict, reason = classify_error(exc), describe_error(exc, timeout)
    else:
        status = response.status_code
        verdict = classify_status(status)
        sample = scrub(response.text[:SAMPLE_CHARS], secrets) or None
        reason = _status_reason(response, sample)
        if verdict is Verdict.RETRY:
            retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
    latency = time.monotonic() - started
    now = time.time()
    decision = policy.decide(
        verdict,
        attempts=record.attempts + 1,
        window_start=record.window_start,
        now=now,
        reason=scrub(reason, secrets) if reason else None,
        retry_after=retry_after,
        rng=rng,
    )
    return AttemptOutcome(
        state=decision.state,
        attempted_at=now,
        status=status,
        error=decision.error,
        response_sample=sample,
        next_attempt_at=decision.next_attempt_at,
        latency=latency,
    )


def _status_reason(response: httpx.Response, sample: str | None) -> str | None:
    if response.is_success:
        return None
    reason = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    retry_after = response.headers.get("retry-after")
    if retry_after:
        reason += f" (Retry-After: {retry_after})"
    if sample:
        reason += ": " + " ".join(sample[:REASON_BODY_CHARS].split())
    return reason
