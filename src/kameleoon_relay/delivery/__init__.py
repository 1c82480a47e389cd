"""Delivery: send queued requests to their destinations, retry, dead-letter.

`Dispatcher(store, config)` runs the loop; `RetryPolicy` decides what an answer means;
`http_client()` is the one place an outgoing HTTP client is built.
"""

from kameleoon_relay.delivery.attempt import attempt, build_request
from kameleoon_relay.delivery.client import USER_AGENT, ClientPool, http_client
from kameleoon_relay.delivery.dispatcher import DeliveryOptions, DestinationWorker, Dispatcher
from kameleoon_relay.delivery.policy import (
    RETRYABLE_STATUSES,
    Decision,
    RetryPolicy,
    Verdict,
    classify_error,
    classify_status,
    parse_retry_after,
)

__all__ = [
    "RETRYABLE_STATUSES",
    "USER_AGENT",
    "ClientPool",
    "Decision",
    "DeliveryOptions",
    "DestinationWorker",
    "Dispatcher",
    "RetryPolicy",
    "Verdict",
    "attempt",
    "build_request",
    "classify_error",
    "classify_status",
    "http_client",
    "parse_retry_after",
]
