"""Batched delivery for destinations whose requests carry many events (the Data API).

A worker hands over up to `batch.max_events` claimed deliveries at once. Each is
planned with the config in force; their lines go out in requests of at most
`max_events` events and `max_bytes` bytes, with a Bearer token from the relay's one
token per destination (delivery/tokens.py, token_link.py):

- 2xx settles every event of the request;
- 400 or 413 splits it in halves, down to single events, so a poison event is
  failed alone and the rest delivered;
- 401 or 403 drops the token and tries once more with a fresh one;
- a retryable answer retries every event of the request later. Lines and nonces
  derive from the stored event, so the retry repeats them and Kameleoon can
  recognise what it already has.

Each event's history keeps its own lines and the request it went in: the
`x-relay-batch` header names the request and how many events it carried.
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass, field

import orjson
from pyreqwest.client import Client

from kameleoon_relay.actions import BatchLimits, HttpRequest
from kameleoon_relay.config.model import DestinationConfig
from kameleoon_relay.delivery.attempt import Answer, crashed, filtered_reason, judge, send
from kameleoon_relay.delivery.policy import RetryPolicy, Verdict
from kameleoon_relay.delivery.tokens import TokenError, TokenSource
from kameleoon_relay.pipeline import Pipeline, PlannedDelivery
from kameleoon_relay.store.models import ClaimedDelivery, DeliveryOutcome, SentRequest

SPLIT_STATUSES = frozenset({400, 413})  # the request as a whole was refused: find who
AUTH_STATUSES = frozenset({401, 403})  # the token: drop it, fetch another, once


def batch_limits(pipeline: Pipeline, destination: str) -> BatchLimits | None:
    """The destination's batch limits in the config in force, None when it sends singly."""
    try:
        config = pipeline.config.destination(destination)
    except KeyError:
        return None
    limits = config.options.get("batch")
    return limits if isinstance(limits, BatchLimits) else None


@dataclass
class _Item:
    """One claimed delivery's share of a batch."""

    claim: ClaimedDelivery
    planned: list[PlannedDelivery]
    to_send: list[PlannedDelivery]  # requests not delivered yet
    lines: list[str]
    size: int  # bytes of its lines, newline included
    answers: dict[int, Answer] = field(default_factory=dict)  # id(entry) -> answer
    sent_as: dict[int, HttpRequest] = field(default_factory=dict)  # id(entry) -> request


async def attempt_batch(
    client: Client,
    claims: list[ClaimedDelivery],
    pipeline: Pipeline,
    policy: RetryPolicy,
    timeout: float,
    tokens: TokenSource,
    rng: random.Random | None = None,
) -> list[DeliveryOutcome]:
    """Plan and send `claims` together; one outcome per claim."""
    outcomes: list[DeliveryOutcome] = []
    items: list[_Item] = []
    destination: DestinationConfig | None = None
    limits = BatchLimits()
    for claim in claims:
        try:
            planned = pipeline.plan_for(
                claim.destination, orjson.loads(claim.body), claim.visitor_code
            )
            destination = pipeline.config.destination(claim.destination)
        except KeyError:
            outcomes.append(_not_configured(claim))
            continue
        limits = batch_limits(pipeline, claim.destination) or limits
        dropped = filtered_reason(planned)
        if dropped is not None:
            sent = SentRequest(None, None, "filtered", error=f"{dropped[0]}: {dropped[1]}")
            outcomes.append(_filtered(claim, dropped, sent))
            continue
        planned = [entry for entry in planned if entry.filtered is None]
        to_send = [
            entry
            for entry in planned
            if entry.request is not None
            and entry.error is None
            and entry.subscription not in claim.done
        ]
        lines = [line for entry in to_send for line in entry.request.lines or ()]  # type: ignore[union-attr]
        size = sum(len(line.encode()) + 1 for line in lines)
        items.append(_Item(claim, planned, to_send, lines, size))
    sending = [item for item in items if item.to_send]
    if sending and destination is not None:
        for group in _groups(sending, limits):
            await _send_group(client, group, destination, timeout, tokens)
    for item in items:
        outcomes.append(_outcome(item, policy, rng))
    return outcomes


def _groups(items: list[_Item], limits: BatchLimits) -> list[list[_Item]]:
    """Consecutive groups within the event and byte limits (an event larger than the byte
    limit goes alone: Kameleoon's answer decides)."""
    groups: list[list[_Item]] = []
    current: list[_Item] = []
    size = 0
    for item in items:
        if current and (len(current) >= limits.max_events or size + item.size > limits.max_bytes):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        groups.append(current)
    return groups


async def _send_group(
    client: Client,
    group: list[_Item],
    destination: DestinationConfig,
    timeout: float,
    tokens: TokenSource,
) -> None:
    """Send one request for `group`; split on 400/413 until each part is settled."""
    first = group[0].to_send[0].request
    assert first is not None
    body = "\n".join(line for item in group for line in item.lines).encode()
    batch_id = secrets.token_hex(6)
    headers = {
        **first.headers,
        "x-relay-batch": f"{batch_id}; events={len(group)}; bytes={len(body)}",
    }
    answer: Answer | None = None
    shown = HttpRequest(first.method, first.url, headers, None, body)  # kept masked
    for _ in range(2):  # a refused token gets one retry with a fresh one
        try:
            token = await tokens.bearer(client, destination, timeout)
        except TokenError as error:
            answer = Answer(error.verdict, error.status, str(error), None, None, 0.0)
            break
        request = HttpRequest(
            first.method, first.url, {**headers, "authorization": f"Bearer {token}"}, None, body
        )
        answer = await send(client, request, timeout)
        shown = request
        if answer.status not in AUTH_STATUSES:
            break
        tokens.drop(destination, token)
    assert answer is not None
    if answer.status in SPLIT_STATUSES and len(group) > 1:
        half = len(group) // 2
        await _send_group(client, group[:half], destination, timeout, tokens)
        await _send_group(client, group[half:], destination, timeout, tokens)
        return
    for item in group:
        for entry in item.to_send:
            item.answers[id(entry)] = answer
            item.sent_as[id(entry)] = shown


def _outcome(item: _Item, policy: RetryPolicy, rng: random.Random | None) -> DeliveryOutcome:
    """The delivery's next state from the answers its requests got, as a single attempt's."""
    done = set(item.claim.done)
    results: list[tuple[PlannedDelivery, Answer | None]] = []
    for entry in item.planned:
        if entry.error is not None or entry.request is None:
            results.append((entry, None))
            continue
        answer = item.answers.get(id(entry))
        if answer is None:
            continue  # delivered in an earlier attempt
        if answer.verdict is Verdict.DELIVERED:
            done.add(entry.subscription or "")
        # The history shows the request it went in (headers), with this event's own lines.
        shown = item.sent_as[id(entry)]
        own = entry.request
        results.append(
            (
                PlannedDelivery(
                    entry.destination,
                    entry.subscription,
                    entry.action,
                    request=HttpRequest(own.method, own.url, shown.headers, None, own.body),
                ),
                answer,
            )
        )
    return judge(item.claim, item.planned, results, frozenset(done), policy, rng)


def _not_configured(claim: ClaimedDelivery) -> DeliveryOutcome:
    return DeliveryOutcome(
        delivery_id=claim.id,
        lease=claim.lease,
        state="failed",
        attempted_at=time.time(),
        error=f"destination {claim.destination!r} is not in the configuration in force "
        "(add it back, then replay)",
    )


def _filtered(
    claim: ClaimedDelivery, dropped: tuple[str, str], sent: SentRequest
) -> DeliveryOutcome:
    return DeliveryOutcome(
        delivery_id=claim.id,
        lease=claim.lease,
        state="filtered",
        attempted_at=time.time(),
        requests=(sent,),
        error=sent.error,
        filtered=dropped,
    )


def crashed_all(
    claims: list[ClaimedDelivery],
    exc: Exception,
    policy: RetryPolicy,
    rng: random.Random | None,
) -> list[DeliveryOutcome]:
    """A bug, not a network problem: every delivery of the batch is kept and retried."""
    return [crashed(claim, exc, policy, rng) for claim in claims]
