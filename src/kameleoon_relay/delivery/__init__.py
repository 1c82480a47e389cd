"""Delivery: plan queued events with the config in force, send, retry, dead-letter.

`Dispatcher(store, current, settings)` runs the loop; `RetryPolicy` decides what an answer
means; `client` is the one place outgoing HTTP clients are built; `replay`
re-plans stored events and requeues them.
"""

from kameleoon_relay.delivery.attempt import attempt, send
from kameleoon_relay.delivery.client import http_session, sync_client
from kameleoon_relay.delivery.dispatcher import DestinationWorker, Dispatcher
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
    "Decision",
    "DestinationWorker",
    "Dispatcher",
    "RetryPolicy",
    "Verdict",
    "attempt",
    "classify_error",
    "classify_status",
    "http_session",
    "parse_retry_after",
    "send",
    "sync_client",
]
