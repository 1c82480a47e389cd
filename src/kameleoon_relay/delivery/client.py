"""The one place an outgoing HTTP client is built."""

from __future__ import annotations

import functools
import ssl

import httpx

from kameleoon_relay import USER_AGENT


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle takes tens of milliseconds: do it once per process."""
    return httpx.create_ssl_context()


def http_client(
    *,
    timeout: float = 10.0,
    max_connections: int = 16,
    keepalive_expiry: float = 30.0,
) -> httpx.AsyncClient:
    """A pooled async client: keep-alive connections, bounded pool, one timeout for
    connect, read, write and pool wait. Our user-agent is the default; a request's own
    `user-agent` header wins because httpx merges request headers over client headers."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=keepalive_expiry,
        ),
        headers={"user-agent": USER_AGENT},
        follow_redirects=False,
        verify=shared_ssl_context(),
        trust_env=False,  # the relay's destinations come from its config, not the environment
    )


class ClientPool:
    """`size` single-connection clients, lent out one per request.

    httpcore's pool scans every connection for every request (with a syscall per
    connection), which made one shared client the relay's main CPU cost; a free list of
    one-connection clients keeps keep-alive and the concurrency bound at O(1) a request.
    """

    def __init__(self, size: int, timeout: float) -> None:
        self._free = [http_client(timeout=timeout, max_connections=1) for _ in range(size)]
        self._all = list(self._free)

    def take(self) -> httpx.AsyncClient:
        return self._free.pop()  # the caller never has more than `size` requests out

    def give_back(self, client: httpx.AsyncClient) -> None:
        self._free.append(client)

    @property
    def available(self) -> int:
        return len(self._free)

    async def aclose(self) -> None:
        for client in self._all:
            await client.aclose()
