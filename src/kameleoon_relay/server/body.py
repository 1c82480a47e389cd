"""Reading a request body within Segment's size limits, then parsing its JSON."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from starlette.requests import Request

from kameleoon_relay.errors import RelayError

KB = 1024
MAX_MESSAGE_BYTES = 32 * KB
MAX_BATCH_BYTES = 500 * KB
MAX_BATCH_EVENTS = 2500


class PayloadError(RelayError):
    """A request the relay refuses as a whole: answered with 400 and `message`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _too_large(limit: int) -> PayloadError:
    return PayloadError(f"payload too large: the limit is {limit // KB} KB")


async def read_body(request: Request, limit: int) -> bytes:
    """The (gunzipped) body, refusing it as soon as it passes `limit` bytes."""
    length = request.headers.get("content-length", "")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        raise PayloadError(f"unsupported content-encoding {encoding!r}", status=415)
    gzipped = encoding == "gzip"
    # A gzipped body is limited after inflating it; its wire size says little.
    if not gzipped and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    inflater = zlib.decompressobj(wbits=31) if gzipped else None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if inflater is not None:
            try:
                chunk = inflater.decompress(chunk, limit + 1 - size)
            except zlib.error as exc:
                raise PayloadError("body is not valid gzip") from exc
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    if inflater is not None and not inflater.eof:
        raise PayloadError("body is not valid gzip")
    return b"".join(chunks)


def parse_object(body: bytes) -> dict[str, Any]:
    """The JSON object in `body`; analytics.js sends it as text/plain, so any type is read."""
    if not body.strip():
        raise PayloadError("empty body: expected a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError("expected a JSON object")
    return data
