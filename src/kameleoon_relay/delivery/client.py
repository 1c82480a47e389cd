"""The one place an outgoing HTTP client is built."""

from __future__ import annotations

import httpx

from kameleoon_relay import __version__

USER_AGENT = f"kameleoon-relay/{__version__}"


def http_client(
    *,
    timeout: float = 10.0,
    max_connections: int = 16,
    keepalive_expiry: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
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
        trust_env=False,  # the relay's destinations come from its config, not the environment
        transport=transport,
    )
