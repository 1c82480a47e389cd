"""Rate-limited logging: a flood of one message costs a few lines, not gigabytes.

Under a connection flood, asyncio logs every failed `accept()` and a server can log
one line per refused client; 700,000 identical lines help nobody and fill the disk.
Each message template may log BURST lines per WINDOW seconds; the rest are counted
and reported in one line when the template next gets through. Records that are a
record of something (`extra={"record": True}`: one line per delivery outcome, which
operators count on) are never cut.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

BURST = 10
WINDOW = 60.0
_MAX_KEYS = 1024  # templates tracked at once; past that the oldest window restarts


class RateLimitFilter(logging.Filter):
    def __init__(
        self,
        burst: int = BURST,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        # key -> [window start, lines logged in it, lines suppressed]
        self._seen: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "record", False):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        entry = self._seen.get(key)
        if entry is None or now - entry[0] >= self.window:
            suppressed = int(entry[2]) if entry else 0
            if len(self._seen) >= _MAX_KEYS:
                self._seen.clear()
            self._seen[key] = [now, 1, 0]
            if suppressed:
                record.msg = f"{record.msg} [{suppressed} more like this suppressed]"
            return True
        if entry[1] < self.burst:
            entry[1] += 1
            return True
        entry[2] += 1
        return False


def install(log_filter: logging.Filter | None = None) -> logging.Filter:
    """Put one shared filter on every handler that exists now (and the last-resort one)."""
    log_filter = log_filter or RateLimitFilter()
    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    handlers = {id(h): h for lg in loggers for h in lg.handlers}
    if logging.lastResort is not None:
        handlers[id(logging.lastResort)] = logging.lastResort
    for handler in handlers.values():
        if log_filter not in handler.filters:
            handler.addFilter(log_filter)
    return log_filter
