"""One delivery attempt: plan the event with the config in force, send, judge, decide.

Planning happens here, at delivery, so a corrected API key, endpoint, mapping or filter
applies to queued and replayed events alike. What is kept of the attempt is what was
sent (exact body bytes, headers masked) and what came back (scrubbed of our secrets).
"""

from __future__ import annotations

import http
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from pyreqwest.client import Client

from kameleoon_relay.actions import HttpRequest
from kameleoon_relay.delivery.policy import (
    SEND_ERRORS,
    RetryPolicy,
    Verdict,
    classify_error,
    classify_status,
    describe_error,
    parse_retry_after,
)
from kameleoon_relay.pipeline import Pipeline, PlannedDelivery
from kameleoon_relay.secrets import mask_headers, scrub, secrets_in
from kameleoon_relay.store.models import ClaimedDelivery, DeliveryOutcome, SentRequest

SAMPLE_CHARS = 1024  # enough to read an error message, small enough to keep for every row
REASON_BODY_CHARS = 200
NO_MATCH = ("mappings", "no subscription matched the event")


@dataclass(slots=True)  # one per request sent: slotted, not frozen (cheaper); read-only
class Answer:
    """What sending one request gave."""

    verdict: Verdict
    status: int | None
    reason: str | None
    response: str | None
    retry_after: float | None
    latency: float


async def send(client: Client, request: HttpRequest, timeout: float) -> Answer:
    """Send `request` (its exact body bytes) and classify the answer."""
    headers = request.headers
    if "content-type" not in headers:
        headers = {**headers, "content-type": "application/json"}
    started = time.monotonic()
    try:
        response = await (
            client.request(request.method, request.url)
            .headers(headers)
            .body_bytes(request.body)
            .build()
            .send()
        )
        status = response.status
        verdict = classify_status(status)
        if verdict is Verdict.DELIVERED:
            # The body is read (the connection goes back to the pool); no sample is kept
            # for a 2xx: it says nothing and would cost every row.
            await response.bytes()
            return Answer(verdict, status, None, None, None, time.monotonic() - started)
        raw = await response.bytes()
        retry_header = response.get_header("retry-after")
    except SEND_ERRORS as exc:
        latency = time.monotonic() - started
        reason = scrub(describe_error(exc, timeout), secrets_in(request.headers))
        return Answer(classify_error(exc), None, reason, None, None, latency)
    latency = time.monotonic() - started
    text = bytes(raw).decode("utf-8", errors="replace")
    secrets = secrets_in(request.headers)
    sample = scrub(text[:SAMPLE_CHARS], secrets) or None
    retry_after = None
    if verdict is Verdict.RETRY:
        retry_after = parse_retry_after(retry_header, time.time())
    reason = f"HTTP {status} {_phrase(status)}".rstrip()
    if retry_header:
        reason += f" (Retry-After: {retry_header})"
    if sample:
        reason += ": " + " ".join(sample[:REASON_BODY_CHARS].split())
    return Answer(verdict, status, scrub(reason, secrets), sample, retry_after, latency)


def _phrase(status: int) -> str:
    # The client does not keep the server's reason phrase: the standard one for the code.
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


async def attempt(
    client: Client,
    claimed: ClaimedDelivery,
    pipeline: Pipeline,
    policy: RetryPolicy,
    timeout: float,
    rng: random.Random | None = None,
    observe: Callable[[Answer], None] | None = None,
) -> DeliveryOutcome:
    """Plan and send one claimed delivery; the outcome says where it goes next.
    `observe` sees each answer as it comes (the destination's throttle learns from it)."""
    started = time.time()
    try:
        planned = pipeline.plan_for(
            claimed.destination, orjson.loads(claimed.body), claimed.visitor_code
        )
    except KeyError:
        return _final(
            claimed,
            "failed",
            started,
            error=f"destination {claimed.destination!r} is not in "
            "the configuration in force (add it back, then replay)",
        )
    dropped = filtered_reason(planned)
    if dropped is not None:
        sent = SentRequest(None, None, "filtered", error=f"{dropped[0]}: {dropped[1]}")
        return _final(claimed, "filtered", started, requests=(sent,), filtered=dropped)
    # An action with nothing to send (no goal id) beside one that sends: only the latter.
    planned = [entry for entry in planned if entry.filtered is None]

    done = set(claimed.done)
    sent_requests: list[tuple[PlannedDelivery, Answer | None]] = []
    for entry in planned:
        if entry.error is not None or entry.request is None:
            sent_requests.append((entry, None))
        elif entry.subscription not in done:
            answer = await send(client, entry.request, timeout)
            if observe is not None:
                observe(answer)
            if answer.verdict is Verdict.DELIVERED:
                done.add(entry.subscription or "")
            sent_requests.append((entry, answer))
    return judge(claimed, planned, sent_requests, frozenset(done), policy, rng)


def filtered_reason(planned: list[PlannedDelivery]) -> tuple[str, str] | None:
    """(filter, reason) when nothing of the plan is to be sent, else None."""
    if not planned:
        return NO_MATCH
    dropped = [entry.filtered for entry in planned if entry.filtered is not None]
    if len(dropped) < len(planned):
        return None
    return dropped[0].filter, "; ".join(dict.fromkeys(d.reason for d in dropped))


def judge(
    claimed: ClaimedDelivery,
    planned: list[PlannedDelivery],
    results: list[tuple[PlannedDelivery, Answer | None]],
    done: frozenset[str],
    policy: RetryPolicy,
    rng: random.Random | None,
) -> DeliveryOutcome:
    """The delivery's next state from its requests': any retryable answer means retry (the
    delivered ones are not sent again), else any failure fails it, else it is delivered."""
    now = time.time()
    answers = [answer for _, answer in results if answer is not None]
    retrying = [a for a in answers if a.verdict is Verdict.RETRY]
    failures = [
        _error_text(entry) if answer is None else answer.reason
        for entry, answer in results
        if answer is None or answer.verdict is Verdict.FAIL
    ]
    if retrying:
        reasons = [a.reason for a in retrying if a.reason]
        waits = [a.retry_after for a in retrying if a.retry_after is not None]
        decision = policy.decide(
            Verdict.RETRY,
            attempts=claimed.attempts + 1,
            window_start=claimed.window_start,
            now=now,
            reason="; ".join(reasons) or None,
            retry_after=max(waits) if waits else None,
            rng=rng,
        )
        state, error, next_at = decision.state, decision.error, decision.next_attempt_at
    elif failures:
        state, error, next_at = "failed", "; ".join(dict.fromkeys(f for f in failures if f)), None
    else:
        state, error, next_at = "delivered", None, None
    retry_label = "dead" if state == "dead" else "retry"
    requests = tuple(_sent(entry, answer, retry_label) for entry, answer in results)
    statuses = [a.status for a in answers if a.status is not None]
    return DeliveryOutcome(
        delivery_id=claimed.id,
        lease=claimed.lease,
        state=state,
        attempted_at=now,
        actions=",".join(dict.fromkeys(p.action or "" for p in planned)),
        requests=requests,
        done=done,
        status=statuses[-1] if statuses else None,
        error=error or None,
        next_attempt_at=next_at,
        latency=sum(a.latency for a in answers) if answers else None,
    )


def _sent(entry: PlannedDelivery, answer: Answer | None, retry_label: str) -> SentRequest:
    if answer is None:
        return SentRequest(entry.subscription, entry.action, "failed", error=_error_text(entry))
    request = entry.request
    assert request is not None
    outcome = {
        Verdict.DELIVERED: "delivered",
        Verdict.FAIL: "failed",
        Verdict.RETRY: retry_label,
    }[answer.verdict]
    return SentRequest(
        entry.subscription,
        entry.action,
        outcome,
        url=request.url,
        headers=mask_headers(request.headers),
        body=request.body,
        status=answer.status,
        error=answer.reason,
        response=answer.response,
        latency=answer.latency,
    )


def _error_text(entry: PlannedDelivery) -> str:
    if entry.error is None:
        return "no request was planned"
    return f"{entry.error.type}: {entry.error.message}"


def _final(
    claimed: ClaimedDelivery,
    state: str,
    at: float,
    *,
    error: str | None = None,
    requests: tuple[SentRequest, ...] = (),
    filtered: tuple[str, str] | None = None,
) -> DeliveryOutcome:
    return DeliveryOutcome(
        delivery_id=claimed.id,
        lease=claimed.lease,
        state=state,  # type: ignore[arg-type]
        attempted_at=at,
        requests=requests,
        error=error or (requests[0].error if requests else None),
        filtered=filtered,
    )


def crashed(
    claimed: ClaimedDelivery, exc: Exception, policy: RetryPolicy, rng: random.Random | None
) -> DeliveryOutcome:
    """A bug, not a network problem: keep the delivery and retry it later."""
    now = time.time()
    decision = policy.decide(
        Verdict.RETRY,
        attempts=claimed.attempts + 1,
        window_start=claimed.window_start,
        now=now,
        reason=f"internal error: {type(exc).__name__}",
        rng=rng,
    )
    return DeliveryOutcome(
        delivery_id=claimed.id,
        lease=claimed.lease,
        state=decision.state,
        attempted_at=now,
        done=claimed.done,
        error=decision.error,
        next_attempt_at=decision.next_attempt_at,
    )
