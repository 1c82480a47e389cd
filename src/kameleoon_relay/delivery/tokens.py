"""OAuth access tokens for destinations that need one (Kameleoon's Data API).

One token per destination and set of credentials, held in memory only (never in the
store, logs or metrics). It is fetched on first use, refreshed shortly before it
expires, and dropped when Kameleoon answers 401 or 403 (that value only: one already
replaced stays replaced) so the next request fetches another. Concurrent callers wait
for one fetch. The client secret travels only in the token request's body.

`TokenCache` fetches them: in the process that delivers, or, when delivery runs in
processes of its own, in `serve` alone, which lends them to every delivery process
(delivery/token_link.py): one fetch per relay, not one per process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import orjson
from pyreqwest.client import Client

from kameleoon_relay.actions import HttpRequest
from kameleoon_relay.config.model import DestinationConfig
from kameleoon_relay.delivery.client import http_session
from kameleoon_relay.delivery.policy import SEND_ERRORS, Verdict, classify_error, describe_error
from kameleoon_relay.destinations.kameleoon_data_api import token_request
from kameleoon_relay.errors import RelayError
from kameleoon_relay.secrets import scrub

REFRESH_MARGIN = 60.0  # seconds before expiry a token is replaced (at most a tenth of its life)
DEFAULT_LIFETIME = 3600.0  # when the answer gives no expires_in


class TokenError(RelayError):
    """No token: `verdict` says whether to retry (unreachable, 5xx) or fail (refused)."""

    def __init__(self, message: str, verdict: Verdict, status: int | None = None) -> None:
        self.verdict = verdict
        self.status = status
        super().__init__(message)


@dataclass
class Token:
    value: str
    refresh_at: float  # time.monotonic() when it is to be replaced, shortly before expiry

    def __repr__(self) -> str:  # never the token itself
        return f"Token(refresh_at={self.refresh_at!r})"

    def live(self) -> bool:
        return self.refresh_at > time.monotonic()

    def is_(self, value: str) -> bool:
        return hmac.compare_digest(self.value.encode(), value.encode())


def token_key(destination: DestinationConfig) -> str:
    """Destination and credentials: a reload with new ones gets a new token. Hashed, so
    that the secret is not a dictionary key (reprs, debuggers) nor sent between processes."""
    settings: Mapping[str, Any] = destination.settings
    seed = "\x00".join(
        (
            destination.name,
            str(destination.options.get("token_url")),
            str(settings.get("clientId")),
            str(settings.get("clientSecret")),
        )
    )
    return hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()


class TokenSource(Protocol):
    """Where delivery gets its tokens: a `TokenCache`, or the link to the one in `serve`."""

    async def bearer(
        self, client: Client, destination: DestinationConfig, timeout: float
    ) -> str: ...

    def drop(self, destination: DestinationConfig, value: str) -> None: ...


@dataclass
class TokenCache:
    _tokens: dict[str, Token] = field(default_factory=dict, repr=False)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict, repr=False)
    fetches: int = 0  # token requests made, for tests and curiosity

    async def bearer(self, client: Client, destination: DestinationConfig, timeout: float) -> str:
        """A live access token for `destination`, fetched if need be (TokenError if not)."""
        return (await self.token(client, destination, timeout)).value

    async def token(self, client: Client, destination: DestinationConfig, timeout: float) -> Token:
        """As `bearer`, with when it is to be replaced (lent to delivery processes)."""
        key = token_key(destination)
        token = self._tokens.get(key)
        if token is not None and token.live():
            return token
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self._tokens.get(key)
            if token is None or not token.live():
                token = await self._fetch(client, destination, timeout)
                self._tokens[key] = token
            return token

    def drop(self, destination: DestinationConfig, value: str) -> None:
        """Kameleoon refused `value` (401/403): the next caller fetches a new token."""
        self.drop_key(token_key(destination), value)

    def drop_key(self, key: str, value: str) -> None:
        token = self._tokens.get(key)
        if token is not None and token.is_(value):
            del self._tokens[key]

    async def _fetch(self, client: Client, destination: DestinationConfig, timeout: float) -> Token:
        request = token_request(destination.settings, destination.options["token_url"])
        secret = str(destination.settings.get("clientSecret", ""))
        secrets = [secret] if len(secret) >= 4 else []
        where = destination.options["token_url"]
        self.fetches += 1
        try:
            response = await (
                client.request(request.method, request.url)
                .timeout(timedelta(seconds=timeout))
                .headers(dict(request.headers))
                .body_bytes(request.body)
                .build()
                .send()
            )
            status = response.status
            raw = bytes(await response.bytes())
        except SEND_ERRORS as exc:
            reason = scrub(describe_error(exc, timeout), secrets)
            raise TokenError(f"OAuth token from {where}: {reason}", classify_error(exc)) from None
        if not 200 <= status < 300:
            sample = scrub(" ".join(raw[:200].decode("utf-8", "replace").split()), secrets)
            refused = status in (400, 401, 403)
            verdict = Verdict.FAIL if refused else Verdict.RETRY
            hint = ": check clientId and clientSecret" if refused else ""
            raise TokenError(
                f"OAuth token refused by {where} (HTTP {status} {sample}){hint}", verdict, status
            )
        try:
            answer = orjson.loads(raw)
            value = answer["access_token"]
            lifetime = float(answer.get("expires_in") or DEFAULT_LIFETIME)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise TokenError(
                f"OAuth token from {where}: the answer has no access_token", Verdict.RETRY, status
            ) from None
        if not isinstance(value, str) or not value:
            raise TokenError(f"OAuth token from {where}: empty access_token", Verdict.RETRY)
        margin = min(REFRESH_MARGIN, lifetime / 10)
        return Token(value, time.monotonic() + lifetime - margin)


def needs_token(destination: DestinationConfig) -> bool:
    """Whether requests to `destination` carry an OAuth Bearer token (the Data API)."""
    return "token_url" in destination.options


async def with_fresh_token(
    request: HttpRequest, destination: DestinationConfig, timeout: float
) -> HttpRequest:
    """`request` with a token fetched now: for one-off sends (the dashboard's tester).
    Raises TokenError with a reason that never holds the secret."""
    session = http_session(timeout=timeout, max_connections=1)
    try:
        token = await TokenCache().bearer(session, destination, timeout)
    finally:
        await session.close()
    headers = {**request.headers, "authorization": f"Bearer {token}"}
    return HttpRequest(
        request.method, request.url, headers, request.json, request.body, request.lines
    )
