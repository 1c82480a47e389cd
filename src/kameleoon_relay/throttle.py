"""Failed admin logins, counted per client: guessing the token costs time, others nothing.

A client's first FREE_FAILURES wrong tokens are answered as usual; each one after that
locks it out for twice as long as the last (1 s, 2 s, 4 s ... up to LONGEST), and
while locked out every token it sends is answered 429 with `Retry-After` at once,
without being compared (a right token must not tell itself apart from a wrong one).
Nothing sleeps: other clients never wait for it. A client's count is forgotten
FORGET_AFTER a failure or at its first success; at most MAX_CLIENTS are remembered.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 10  # a person mistyping is never locked out
FIRST_LOCKOUT = 1.0
LONGEST = 300.0
FORGET_AFTER = 900.0
MAX_CLIENTS = 10_000


@dataclass
class _Record:
    failures: int
    last_failure: float
    locked_until: float


class FailureThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._clients: dict[str, _Record] = {}

    def retry_after(self, client: str) -> int:
        """Whole seconds `client` is still locked out for (0: it may try)."""
        record = self._clients.get(client)
        if record is None:
            return 0
        left = record.locked_until - self._clock()
        return math.ceil(left) if left > 0 else 0

    def failed(self, client: str) -> None:
        now = self._clock()
        record = self._clients.pop(client, None)  # re-inserted last: dict order is age
        if record is None or now - record.last_failure > FORGET_AFTER:
            record = _Record(0, now, now)
        record.failures += 1
        record.last_failure = now
        beyond = record.failures - FREE_FAILURES
        if beyond > 0:
            record.locked_until = now + min(LONGEST, FIRST_LOCKOUT * 2 ** min(beyond - 1, 32))
        self._clients[client] = record
        while len(self._clients) > MAX_CLIENTS:
            del self._clients[next(iter(self._clients))]

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)
