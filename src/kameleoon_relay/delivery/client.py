"""The one place outgoing HTTP clients are built.

Delivery uses pyreqwest (Rust's reqwest, hyper and tokio behind a Python API): the
connections, HTTP parsing and timeouts run on its own thread, so the delivery loop
spends about 8 us of its thread per request, against about 54 us with aiohttp and
700 us with httpx (same bodies and sink, `bench/README.md`), and that is what bounds
delivered events per second. One-off blocking calls (the CLI's test authentication,
`send_event`) use httpx's synchronous client.
"""

from __future__ import annotations

import functools
import ssl
from datetime import timedelta
from pathlib import Path

import certifi
import httpx
from pyreqwest.client import Client, ClientBuilder

from kameleoon_relay import USER_AGENT

KEEPALIVE_SECONDS = 30.0


@functools.cache
def _certifi_roots() -> bytes:
    """Mozilla's roots, as httpx trusts them: HTTPS works where the system has none
    (a slim container image); the system's own roots are trusted as well."""
    return Path(certifi.where()).read_bytes()


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle takes tens of milliseconds: do it once per process."""
    return httpx.create_ssl_context()


def http_session(*, timeout: float = 10.0, max_connections: int = 16) -> Client:
    """A pooled async client: at most `max_connections` requests at once on keep-alive
    connections (HTTP/2 where the endpoint chooses it by ALPN), one timeout for the whole
    request, no proxy from the environment, no redirects followed, no cookies, TLS
    verified against the system's roots and certifi's. Our user-agent is the default; a
    request's own header wins. Close it with `await client.close()`."""
    return (
        ClientBuilder()
        .max_connections(max_connections)
        .pool_max_idle_per_host(max_connections)
        .pool_idle_timeout(timedelta(seconds=KEEPALIVE_SECONDS))
        .timeout(timedelta(seconds=timeout))
        .no_proxy()  # the relay's destinations come from its config, not the environment
        .follow_redirects(False)
        .referer(False)
        .user_agent(USER_AGENT)
        .http1_lower_case_headers()
        # Offer h2 by ALPN (pyreqwest offers only http/1.1 unless asked): an HTTPS endpoint
        # that speaks it carries many requests in flight on few connections. Plain http://
        # stays HTTP/1.1 (no prior knowledge).
        .http2(True)
        .add_root_certificate_pem(_certifi_roots())
        .build()
    )


def sync_client(*, timeout: float = 10.0) -> httpx.Client:
    """A blocking client for one-off calls from the command line and scripts."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        headers={"user-agent": USER_AGENT},
        follow_redirects=False,
        verify=shared_ssl_context(),
        trust_env=False,
    )
