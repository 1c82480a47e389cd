"""Drop a client's TCP connection with a reset (RST), sending no HTTP response.

ASGI has no "abort" message, so we find the server's asyncio transport behind the
`send` callable (uvicorn's request cycle keeps it as `.transport`; Starlette's
middleware wraps `send` in closures we can walk). As a fallback, the running
tasks are searched for the server's request cycle of the client's address (this
works on every event loop, uvloop included).
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
        transport = _from_tasks(tuple(client))
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
            if _is_transport(transport):
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


def _is_transport(value: Any) -> bool:
    # uvloop's transports do not derive from asyncio.Transport: go by what we use.
    return hasattr(value, "abort") and hasattr(value, "get_extra_info")


def _from_tasks(client: tuple[Any, ...]) -> asyncio.Transport | None:
    """The transport of the server task serving `client` (uvicorn keeps it on `self`)."""
    for task in asyncio.all_tasks():
        frame = getattr(task.get_coro(), "cr_frame", None)
        owner = frame.f_locals.get("self") if frame is not None else None
        transport = getattr(owner, "transport", None)
        if _is_transport(transport):
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
