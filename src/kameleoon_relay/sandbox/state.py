"""The state behind one sandbox app, shared by its routes and its middleware."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.requests import Request

from kameleoon_relay.sandbox.config import Account, SandboxConfig, decode_api_key
from kameleoon_relay.sandbox.faults import FaultInjector, FaultSettings
from kameleoon_relay.sandbox.store import Store
from kameleoon_relay.sandbox.tokens import TokenIssuer
from kameleoon_relay.sandbox.tracker import Tracker
from kameleoon_relay.throttle import FailureThrottle

COMMIT_DELAY = 0.2  # seconds a write may wait before its batch is committed
_AUTH_CACHE_MAX = 1024


class Sandbox:
    """The state behind one sandbox app: accounts, SQLite store, tracker and faults."""

    def __init__(
        self,
        config: SandboxConfig,
        store: Store,
        faults: FaultSettings,
        retention: float | None = None,
    ) -> None:
        self.config = config
        self.retention = retention
        self._pruned_at = time.monotonic()
        self.store = store
        self.tracker = Tracker(store, config)
        self.faults = FaultInjector(faults)
        self.tokens = TokenIssuer()  # the Data API's access tokens, in memory
        self.refuse: str | None = None  # Data API lines containing this are refused (400)
        self.sitecodes = config.sitecodes()
        self._auth_cache: dict[str, Account] = {}
        self._commit_task: asyncio.Task[None] | None = None
        # Set by the relay that mounts it: its admin_token opens the controls remotely,
        # its allowed_hosts name it, its throttle counts wrong tokens (sandbox/guard.py).
        self.admin_token: str | None = None
        self.allowed_hosts: tuple[str, ...] = ()
        self.throttle = FailureThrottle()
        # Set by the relay that mounts it: whether a request comes from its logged-in
        # dashboard (the session cookie), which opens the page and its controls too.
        self.viewer: Callable[[Request], bool] | None = None

    def account(self, authorization: str | None) -> Account | None:
        if not authorization:
            return None
        if (cached := self._auth_cache.get(authorization)) is not None:
            return cached
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "basic" or not token:
            return None
        key = decode_api_key(token)
        account = self.config.account_for_key(key) if key else None
        if account is not None and len(self._auth_cache) < _AUTH_CACHE_MAX:
            self._auth_cache[authorization] = account
        return account

    def schedule_commit(self) -> None:
        """Commit within COMMIT_DELAY; one pending commit serves every write until then."""
        if self._commit_task is None or self._commit_task.done():
            self._commit_task = asyncio.get_running_loop().create_task(self._commit_later())

    async def _commit_later(self) -> None:
        await asyncio.sleep(COMMIT_DELAY)
        self.store.commit()
        # Retention rides on the commit timer: no writes, nothing new to prune.
        if self.retention is not None:
            interval = min(60.0, max(0.5, self.retention / 10))
            if time.monotonic() - self._pruned_at >= interval:
                self._pruned_at = time.monotonic()
                self.store.prune(time.time() - self.retention)

    def close(self) -> None:
        if self._commit_task is not None:
            self._commit_task.cancel()
        self.store.close()
