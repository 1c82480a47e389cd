"""Reading a request body within Segment's size limits, then parsing its JSON."""

from __future__ import annotations

import logging
import zlib
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from kameleoon_relay.errors import RelayError
from kameleoon_relay.js.values import nesting_depth

KB = 1024
MAX_MESSAGE_BYTES = 32 * KB
MAX_BATCH_BYTES = 500 * KB
MAX_BATCH_EVENTS = 2500
MAX_BODY_DEPTH = 128  # levels of objects and arrays in one request body

log = logging.getLogger("kameleoon_relay.ingest")


class PayloadError(RelayError):
    """A request the relay refuses as a whole: answered with 400 and `message`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def too_deep_error() -> PayloadError:
    return PayloadError(f"invalid JSON: nested deeper than {MAX_BODY_DEPTH} levels")


def _too_large(limit: int) -> PayloadError:
    return PayloadError(f"payload too large: the limit is {limit // KB} KB")


def compressed_limit(limit: int) -> int:
    """The most gzip bytes a body of `limit` bytes can take: gzip's header and trailer,
    and 5 bytes a stored block for what does not compress (blocks hold up to 64 KB)."""
    return limit + limit // 4096 + 1024


async def read_body(request: Request, limit: int) -> bytes:
    """The (gunzipped) body, refusing it as soon as it passes `limit` bytes.

    A gzip body is held to `limit` twice, before anything is kept: its wire bytes
    (compressed_limit) and what they inflate to. It must be one gzip member and nothing
    after it: a second member or trailing bytes are refused at once, never buffered.
    """
    length = request.headers.get("content-length", "")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise PayloadError(f"unsupported content-encoding {encoding!r}", status=415)
    gzipped = encoding == "gzip"
    wire_limit = compressed_limit(limit) if gzipped else limit
    if length.isdigit() and int(length) > wire_limit:
        raise _too_large(limit)
    inflater = zlib.decompressobj(wbits=31) if gzipped else None
    chunks: list[bytes] = []
    size = wire = 0
    try:
        async for chunk in request.stream():
            wire += len(chunk)
            if wire > wire_limit:
                raise _too_large(limit)
            if inflater is not None:
                chunk = _inflate(inflater, chunk, limit + 1 - size)
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        # Hung up, or cut off by the body deadline: one line, no traceback. Nobody reads
        # the answer; 400 keeps the metrics honest.
        host = request.client.host if request.client else "?"
        log.info("client %s hung up after %d bytes of the body", host, size)
        raise PayloadError("the client hung up before the body was complete") from None
    if inflater is not None and not inflater.eof:
        raise PayloadError("body is not valid gzip")
    return b"".join(chunks)


def _inflate(inflater: Any, chunk: bytes, room: int) -> bytes:
    """`chunk` inflated (at most `room` bytes); anything past the end of the gzip member
    is refused, not left to pile up in the inflater's `unused_data`."""
    if inflater.eof:
        if chunk:
            raise _after_gzip_end()
        return b""
    try:
        out = inflater.decompress(chunk, room)
    except zlib.error as exc:
        raise PayloadError("body is not valid gzip") from exc
    if inflater.eof and inflater.unused_data:
        raise _after_gzip_end()
    return out


def _after_gzip_end() -> PayloadError:
    return PayloadError("data after the end of the gzip body (one gzip member, nothing after)")


def parse_object(body: bytes, *, defer_depth: bool = False) -> dict[str, Any]:
    """The JSON object in `body`; analytics.js sends it as text/plain, so any type is read.

    With `defer_depth` the caller calls check_depth before any answer but success (the
    ingest proves most bodies shallow enough with the walk its events take anyway).
    """
    if not body.strip():
        raise PayloadError("empty body: expected a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise too_deep_error() from None
        raise PayloadError(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        check_depth(data)  # the depth is named first, as for an object
        raise PayloadError("expected a JSON object")
    if not defer_depth:
        check_depth(data)
    return data


def check_depth(data: Any) -> None:
    """Refuse a body nested deeper than MAX_BODY_DEPTH.

    Past this the request is refused whole: its events could not even be kept apart
    as rejected (the store's encoder stops at 254 levels). Below it, an event deeper
    than spec.MAX_EVENT_DEPTH is refused on its own.
    """
    if nesting_depth(data, MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
        raise too_deep_error()
