"""A minimal Kameleoon-compatible endpoint for the delivery benchmarks: cheap, so it is not
the bottleneck (the bench reports its own maximum, from wrk, beside the relay's figures).

    POST /segmentio       -> 200 {}   (counted; any body, any headers)
    GET  /count           -> {"count": N, "first": T, "last": T, "target": N, "target_at": T}
    POST /reset?target=N  -> zero the count; `target_at` is when the count reaches N

`--latency-ms N` answers every /segmentio request N ms late (an endpoint far away);
`--rate-limit N` answers 429 with `Retry-After: 1` above N requests a second (a token
bucket of a tenth of a second's worth), counted as `limited` in /count.

Times are `time.monotonic()`, the system-wide CLOCK_MONOTONIC, so the bench process can
compare them with its own. Raw asyncio Protocol (uvloop when importable), HTTP/1.1
keep-alive, Content-Length or chunked bodies, pipelining.

    python bench/sink.py --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time

OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
LIMITED = b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
BAD = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


class Counter:
    def __init__(self) -> None:
        self.reset(0)

    def reset(self, target: int) -> None:
        self.limited = 0
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.target = target
        self.target_at: float | None = None

    def hit(self) -> None:
        now = time.monotonic()
        if self.count == 0:
            self.first = now
        self.count += 1
        self.last = now
        if self.count == self.target:
            self.target_at = now

    def answer(self) -> bytes:
        body = json.dumps(
            {
                "count": self.count,
                "first": self.first,
                "last": self.last,
                "target": self.target,
                "target_at": self.target_at,
                "limited": self.limited,
            }
        ).encode()
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        return head.encode() + b"\r\n\r\n" + body


class Bucket:
    """`rate` a second, bursts of a tenth of a second's worth (at least one)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate / 10)
        self.tokens = self.capacity
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SinkProtocol(asyncio.Protocol):
    def __init__(self, counter: Counter, latency: float = 0.0, bucket: Bucket | None = None):
        self.counter = counter
        self.latency = latency
        self.bucket = bucket
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out: list[bytes] = []
        close = False
        while not close:
            parsed = self._next_request()
            if parsed is None:
                break
            method, target, close = parsed
            if method == b"POST" and target.startswith(b"/segmentio"):
                if self.latency:  # one request at a time per connection: order is kept
                    asyncio.get_running_loop().call_later(self.latency, self._answer_late)
                    continue
                out.append(self._event_answer())
            elif target.startswith(b"/count"):
                out.append(self.counter.answer())
            elif target.startswith(b"/reset"):
                _, _, query = target.partition(b"?")
                wanted = 0
                for pair in query.split(b"&"):
                    key, _, value = pair.partition(b"=")
                    if key == b"target" and value.isdigit():
                        wanted = int(value)
                self.counter.reset(wanted)
                out.append(self.counter.answer())
            elif method == b"BAD":
                out.append(BAD)
                close = True
            else:
                out.append(NOT_FOUND)
        if out and self.transport is not None:
            self.transport.write(b"".join(out))
            if close:
                self.transport.close()

    def _event_answer(self) -> bytes:
        if self.bucket is not None and not self.bucket.take():
            self.counter.limited += 1
            return LIMITED
        self.counter.hit()
        return OK

    def _answer_late(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self._event_answer())

    def _next_request(self) -> tuple[bytes, bytes, bool] | None:
        """Consumes one complete request from the buffer: (method, target, close)."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self.buffer[:end]).lower()
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) < 2:
            del self.buffer[:]
            return b"BAD", b"", True
        method, target = bytes(self.buffer[: len(parts[0])]), parts[1]
        length = 0
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value.strip() or 0)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and b"close" in value:
                close = True
        start = end + 4
        if chunked:
            consumed = _chunked_length(self.buffer, start)
            if consumed is None:
                return None
            del self.buffer[: start + consumed]
        else:
            if len(self.buffer) < start + length:
                return None
            del self.buffer[: start + length]
        return method, target, close


def _chunked_length(buffer: bytearray, start: int) -> int | None:
    """Bytes of a complete chunked body starting at `start`, or None if incomplete."""
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0] or b"0", 16)
        position = line_end + 2
        if size == 0:
            trailer_end = buffer.find(b"\r\n", position)
            while trailer_end >= 0 and trailer_end != position:  # skip trailer lines
                position = trailer_end + 2
                trailer_end = buffer.find(b"\r\n", position)
            if trailer_end < 0:
                return None
            return trailer_end + 2 - start
        if len(buffer) < position + size + 2:
            return None
        position += size + 2


async def serve(host: str, port: int, latency: float = 0.0, rate: float = 0.0) -> None:
    counter = Counter()
    loop = asyncio.get_running_loop()
    bucket = Bucket(rate) if rate else None
    server = await loop.create_server(
        lambda: SinkProtocol(counter, latency, bucket), host, port, backlog=4096
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=0.0, help="requests a second")
    args = parser.parse_args()
    main_task = serve(args.host, args.port, args.latency_ms / 1000, args.rate_limit)
    if loop_name() == "uvloop":
        import uvloop

        uvloop.run(main_task)
    else:
        asyncio.run(main_task)


if __name__ == "__main__":
    main()
