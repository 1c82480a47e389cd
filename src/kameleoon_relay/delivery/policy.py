"""When to retry: pure functions of an attempt's result, the clock and a random source."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from pyreqwest import exceptions as http_errors

from kameleoon_relay.config.model import DeliverySettings
from kameleoon_relay.store.models import NextState

# Statuses worth retrying besides 5xx: timeout, locked, rate limited.
RETRYABLE_STATUSES = frozenset({408, 423, 429})
# A Retry-After past any retry window (a year): a huge value stays a finite number.
MAX_RETRY_AFTER = 365 * 24 * 3600.0


class Verdict(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAIL = "fail"


def classify_status(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status in RETRYABLE_STATUSES or status >= 500:
        return Verdict.RETRY
    return Verdict.FAIL


# What sending can raise besides an answer: the network's troubles and the client's
# refusals (pyreqwest's errors; a URL it cannot even parse is a plain ValueError).
SEND_ERRORS = (http_errors.PyreqwestError, TimeoutError, OSError, ValueError)


def classify_error(exc: BaseException) -> Verdict:
    """Timeouts and network trouble may pass; a malformed URL or request never will."""
    if isinstance(exc, http_errors.BuilderError | http_errors.RedirectError):
        return Verdict.FAIL
    if isinstance(exc, TimeoutError | OSError | http_errors.RequestError):
        return Verdict.RETRY
    return Verdict.FAIL


def describe_error(exc: BaseException, timeout: float | None = None) -> str:
    """A one-line reason for an exception (timeouts often have an empty message)."""
    if isinstance(exc, TimeoutError):
        return f"Timeout: no answer within {timeout:g}s" if timeout else "Timeout"
    if isinstance(exc, http_errors.DetailedPyreqwestError):
        # "connection error" and, from the chain of causes, the innermost (the OS's words).
        causes = (exc.details or {}).get("causes") or []
        root = causes[-1].get("message", "") if causes and isinstance(causes[-1], dict) else ""
        text = f"{exc.message}: {root}" if root and root != exc.message else exc.message
    else:
        text = str(exc)
    return f"{type(exc).__name__}: {' '.join(text.split()) or repr(exc)}"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value: delay-seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT
        return None
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Decision:
    state: NextState
    next_attempt_at: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by a retry window from first receipt."""

    window: float
    base: float
    cap: float

    @classmethod
    def from_settings(cls, settings: DeliverySettings) -> RetryPolicy:
        return cls(settings.retry_window, settings.backoff_base, settings.backoff_max)

    def backoff(self, attempts: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempts-1))], attempts >= 1."""
        ceiling = min(self.cap, self.base * 2 ** max(0, min(attempts - 1, 62)))
        return (rng or random).uniform(0.0, ceiling)

    def decide(
        self,
        verdict: Verdict,
        *,
        attempts: int,
        window_start: float,
        now: float,
        reason: str | None = None,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> Decision:
        """Where a delivery goes after its `attempts`-th attempt (counting this one)."""
        if verdict is Verdict.DELIVERED:
            return Decision("delivered")
        if verdict is Verdict.FAIL:
            return Decision("failed", error=reason)
        # The server's Retry-After is honoured as given; our own backoff only when it is silent.
        delay = retry_after if retry_after is not None else self.backoff(attempts, rng)
        at = now + delay
        deadline = window_start + self.window
        if at > deadline:
            if retry_after is None and now < deadline:
                # Our own backoff would overshoot: one last attempt as the window closes,
                # rather than giving up with part of the window unused.
                return Decision("pending", next_attempt_at=deadline, error=reason)
            waited = now - window_start
            why = (
                f"Retry-After {retry_after:g}s passes the retry window's end"
                if retry_after is not None and now < deadline
                else f"retry window {self.window:g}s"
            )
            return Decision(
                "dead",
                error=f"gave up after {attempts} attempt(s) over {waited:.0f}s ({why}): {reason}",
            )
        return Decision("pending", next_attempt_at=at, error=reason)
