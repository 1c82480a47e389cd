"""The Data API's access tokens, as the sandbox issues them: in memory only."""

from __future__ import annotations

import secrets

from kameleoon_relay.sandbox.config import Account

TOKEN_TTL = 3600.0  # seconds, as Kameleoon's tokens last


class TokenIssuer:
    """Access tokens in memory: a restarted sandbox knows none (clients fetch another)."""

    def __init__(self, ttl: float = TOKEN_TTL) -> None:
        self.ttl = ttl
        self._tokens: dict[str, tuple[Account, float]] = {}

    def issue(self, account: Account, now: float) -> str:
        if len(self._tokens) > 10_000:  # forget expired ones now and then
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (account, now + self.ttl)
        return token

    def account(self, authorization: str | None, now: float) -> tuple[Account | None, str]:
        """(account, "") for a live Bearer token, else (None, why)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None, "send `authorization: Bearer {access_token}` from /oauth/token"
        found = self._tokens.get(token)
        if found is None:
            return None, "unknown access token"
        if found[1] <= now:
            return None, "expired access token"
        return found[0], ""

    def revoke_all(self) -> None:
        self._tokens.clear()
