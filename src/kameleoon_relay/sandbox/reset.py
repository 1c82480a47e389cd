"""Drop a client's TCP connection with a reset (RST), sending no HTTP response.

ASGI has no "abort" message, so we find the server's asyncio transport behind the
`send` callable (uvicorn's request cycle keeps it as `.transport`; Starlette's
middleware wraps `send` in closures we can walk). As a fallback, the selector
loop's transport table is searched for the client's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

_MAX_DEPTH = 12


def find_transport(send: Callable[..., Any], client: Any = None) -> asyncio.Transport | None:
    transport = _walk(send)
    if transport is None and client:
        transport = _from_loop(tuple(client))
    return transport


def _walk(root: Any) -> asyncio.Transport | None:
    seen: set[int] = set()
    frontier = [root]
    for _ in range(_MAX_DEPTH):
        following = []
        for obj in frontier:
            if obj is None or id(obj) in seen:
                continue
            seen.add(id(obj))
            transport = getattr(obj, "transport", None)
            if isinstance(transport, asyncio.Transport):
                return transport
            following.append(getattr(obj, "__self__", None))
            following.append(getattr(obj, "__wrapped__", None))
            following.append(getattr(obj, "func", None))  # functools.partial
            for cell in getattr(obj, "__closure__", None) or ():
                with contextlib.suppress(ValueError):  # empty cell
                    if callable(cell.cell_contents):
                        following.append(cell.cell_contents)
        frontier = following
        if not frontier:
            break
    return None


def _from_loop(client: tuple[Any, ...]) -> asyncio.Transport | None:
    transports = getattr(asyncio.get_running_loop(), "_transports", None)  # selector loops
    for transport in list((transports or {}).values()):
        peer = transport.get_extra_info("peername")
        if peer and tuple(peer[:2]) == client[:2]:
            return transport
    return None


def reset_connection(transport: asyncio.Transport) -> None:
    """Close with SO_LINGER 0 so the kernel sends RST instead of a graceful FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
