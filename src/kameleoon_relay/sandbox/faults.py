"""Seeded fault injection for the sandbox's `/segmentio` endpoints."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kameleoon_relay.errors import RelayError


class FaultSettingsError(RelayError, ValueError):
    """Fault settings out of range or of the wrong type."""


class Fault(StrEnum):
    RESET = "reset"  # close the TCP connection with no response
    TIMEOUT = "timeout"  # hang for hang_seconds, then answer normally
    RATE_LIMIT = "rate_limit"  # 429 with Retry-After (drawn, or over the token bucket)
    ERROR = "error"  # one of error_statuses


@dataclass(frozen=True)
class FaultSettings:
    """Probabilities are per request and exclusive: their sum must not exceed 1."""

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (503,)
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0  # each request's latency: latency_ms +- up to this
    rate_limit: float = 0.0  # events a second the token bucket lets through (0: none)
    timeout_rate: float = 0.0
    hang_seconds: float = 60.0
    reset_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("error_rate", "rate_limit_rate", "timeout_rate", "reset_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise FaultSettingsError(f"{name} must be between 0 and 1, got {rate}")
        if self.error_rate + self.rate_limit_rate + self.timeout_rate + self.reset_rate > 1.0:
            raise FaultSettingsError("the fault rates must add up to at most 1")
        if not self.error_statuses or not all(400 <= s <= 599 for s in self.error_statuses):
            raise FaultSettingsError("error_statuses must be HTTP statuses between 400 and 599")
        if min(self.retry_after, self.latency_ms, self.hang_seconds) < 0:
            raise FaultSettingsError("retry_after, latency_ms and hang_seconds must be >= 0")
        if self.latency_jitter_ms < 0 or self.rate_limit < 0:
            raise FaultSettingsError("latency_jitter_ms and rate_limit must be >= 0")

    @property
    def active(self) -> bool:
        return self.latency_ms > 0 or any(
            (self.error_rate, self.rate_limit_rate, self.timeout_rate, self.reset_rate)
        )

    def merged(self, data: Any) -> FaultSettings:
        """These settings with those of `PATCH /api/faults` JSON changed."""
        return FaultSettings.from_json({**self.to_json(), **_object(data)})

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data

    @classmethod
    def from_json(cls, data: Any) -> FaultSettings:
        """Build from `POST /api/faults` JSON; unknown keys and wrong types are errors."""
        data = dict(_object(data))
        if "error_status" in data:  # the CLI flag's name, accepted for one status
            data.setdefault("error_statuses", [data.pop("error_status")])
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise FaultSettingsError(f"unknown fault settings: {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            kwargs[name] = _coerce(name, value)
        return cls(**kwargs)


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise FaultSettingsError("expected a JSON object")
    return data


def _coerce(name: str, value: Any) -> Any:
    if name == "error_statuses":
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(_is_int(v) for v in value):
            raise FaultSettingsError("error_statuses must be a list of integers")
        return tuple(value)
    if name == "seed":
        if value is not None and not _is_int(value):
            raise FaultSettingsError("seed must be an integer or null")
        return value
    if name == "retry_after":
        if not _is_int(value):
            raise FaultSettingsError("retry_after must be an integer (seconds)")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultSettingsError(f"{name} must be a number")
    return float(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class TokenBucket:
    """`rate` a second, in bursts of up to a tenth of a second's worth (at least one):
    what an API limited to N requests a second typically lets through."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate / 10)
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class FaultInjector:
    """Draws one fault (or none) per request from a seeded generator, so runs repeat."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._random = random.Random(settings.seed)
        self._bucket = TokenBucket(settings.rate_limit) if settings.rate_limit else None

    def latency(self) -> float:
        """Seconds to hold this request before answering."""
        s = self.settings
        if not s.latency_jitter_ms:
            return s.latency_ms / 1000
        jitter = self._random.uniform(-s.latency_jitter_ms, s.latency_jitter_ms)
        return max(0.0, s.latency_ms + jitter) / 1000

    def over_rate(self) -> bool:
        """Whether this event request is over the token bucket's rate (answer 429)."""
        return self._bucket is not None and not self._bucket.take()

    def draw(self) -> tuple[Fault | None, int]:
        """The fault for the next request and, for ERROR, the status to answer."""
        s = self.settings
        if not s.active:
            return None, 0
        roll = self._random.random()
        for fault, rate in (
            (Fault.RESET, s.reset_rate),
            (Fault.TIMEOUT, s.timeout_rate),
            (Fault.RATE_LIMIT, s.rate_limit_rate),
            (Fault.ERROR, s.error_rate),
        ):
            if roll < rate:
                if fault is Fault.ERROR:
                    return fault, self._random.choice(s.error_statuses)
                return fault, 0
            roll -= rate
        return None, 0
