"""Connection hygiene: what a slow, lying or hoarding client may hold, and for how long.

The write key is public, so anyone may open connections. uvicorn's httptools
protocol (the fastest it has: C parsing) times out only idle keep-alive connections;
this subclass adds the rest:

- request headers must be complete within HEADER_TIMEOUT of the connection opening
  (or of the previous response), else 408 and close (slowloris, partial headers);
- a body must be complete within BODY_TIMEOUT of its headers (a lying
  content-length), else the connection is closed and the handler sees a disconnect;
- at most `max_connections` are open at once, kept below the file-descriptor limit
  so that `accept()` never fails with EMFILE: one more is answered 503 and closed;
- request headers still incomplete past MAX_HEADER_BYTES are a 400, as h11 (uvicorn's
  other protocol) answers them: httptools itself buffers them without a limit.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT = 10.0  # seconds from connect (or the last response) to complete headers
BODY_TIMEOUT = 30.0  # seconds from headers to the end of the body (500 KB at ~17 KB/s)
MAX_CONNECTIONS = 8192
MAX_HEADER_BYTES = 16 * 1024  # h11's default limit on an incomplete request head
FD_RESERVE = 512  # descriptors kept for the store, delivery's pool, logs, accept bursts

log = logging.getLogger("kameleoon_relay.connections")


def _raw_response(status: str, message: str, *extra: str) -> bytes:
    body = b'{"success":false,"error":"' + message.encode() + b'"}'
    head = [
        f"HTTP/1.1 {status}",
        "content-type: application/json",
        "connection: close",
        *extra,
        f"content-length: {len(body)}",
    ]
    return "\r\n".join(head).encode() + b"\r\n\r\n" + body


_OVERLOADED = _raw_response(
    "503 Service Unavailable", "too many connections; retry later", "retry-after: 1"
)
_TIMED_OUT = _raw_response("408 Request Timeout", "request not sent in time")


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one where allowed; the soft limit after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else target
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target


def connection_cap(fd_limit: int, wanted: int = MAX_CONNECTIONS) -> int:
    """How many connections may be open at once with `fd_limit` descriptors."""
    return max(16, min(wanted, fd_limit - FD_RESERVE))


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines and a connection cap."""

    max_connections = MAX_CONNECTIONS
    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase = "headers"  # what the deadline waits for: headers, body, or none
        self._phase_bytes = 0  # received since the phase began
        self._in_body = False  # a request's headers are in, its body is not complete
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            # Answer and let go at once: the descriptor is back before the next accept.
            log.warning("refusing connections: %d open, the cap", self.max_connections)
            transport.write(_OVERLOADED)
            transport.close()
            self.transport = transport
            self._refused = True
            return
        super().connection_made(transport)
        self._arm("headers", self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._refused:
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._phase_bytes += len(data)
        super().data_received(data)
        flooded = self._phase == "headers" and self._phase_bytes > MAX_HEADER_BYTES
        if flooded and not self.transport.is_closing():
            self._header_flood()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._in_body = True
        self._arm("body", self.body_timeout)  # disarmed at once when there is none

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        if self.cycle is not None and self.cycle.response_complete:  # answered early
            self._arm("headers", self.header_timeout)
        else:
            self._disarm()  # the app has the request: no deadline while it works

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self._in_body:  # answered early (401, 413, 503): the rest of the body is due
            self._arm("body", self.body_timeout)
        else:  # keep-alive: the next request's headers get a fresh deadline
            self._arm("headers", self.header_timeout)

    def _header_flood(self) -> None:
        msg = "Invalid HTTP request received."  # uvicorn's words for a parser error
        self.logger.warning(msg)
        self._disarm()
        self.send_400_response(msg)

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        self._phase_bytes = 0
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        self._phase = "none"
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # A connection that never sent a byte is closed without a log line: there
        # may be thousands, and nothing about them is worth reading.
        if self._phase == "body" or self._phase_bytes:
            host = self.client[0] if self.client else "?"
            limit = self.header_timeout if self._phase == "headers" else self.body_timeout
            log.info(
                "closed a connection from %s: request %s not complete in %gs",
                host,
                self._phase,
                limit,
            )
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(_TIMED_OUT)
        # The handler waiting on the body sees a disconnect (ClientDisconnect).
        self.transport.close()
