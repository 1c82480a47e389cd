"""One OAuth token per destination for all the delivery processes: `serve` holds it.

With `delivery.processes: N`, a `TokenCache` in each process would fetch N tokens per
destination, and N more after Kameleoon refuses one. Instead `serve` keeps the only
cache (`TokenLender`) and each delivery process asks it (`BorrowedTokens`), over a
datagram socket pair of its own: `{"get", "destination", "key", "timeout"}` is
answered with the token and how long it stays good, or with the fetch's error (its
secret-free message and verdict, as a local fetch would raise); `{"drop", ...}` says
Kameleoon refused that value. A separate pair from the wake/metrics one: that stream
may lose a message by design (a full socket drops it), this one is request/answer,
and each end has one reader that parses one kind of message.

- The borrower keeps the token until its lender would replace it (shortly before it
  expires), then asks again; concurrent asks in one process are one ask, and the
  lender's cache makes concurrent asks from every process one fetch.
- A 401/403 drops exactly the refused value, in the borrower and in `serve`: a token
  another process already replaced is not dropped again, so one refusal is one fetch.
- No secret on the link: the borrower names the destination and the hash of its
  credentials (`token_key`); `serve` uses its own config. When the two disagree (a
  reload reached one before the other), the answer is a retry, never a wrong token.
- An answer that does not come within the fetch's timeout plus `ANSWER_GRACE` (serve
  busy or gone) is a retry, as an unreachable token URL is.
- Tokens live in memory only: no repr, log line or metric shows one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson
from pyreqwest.client import Client

from kameleoon_relay.config import Config
from kameleoon_relay.config.model import DestinationConfig
from kameleoon_relay.delivery.client import http_session
from kameleoon_relay.delivery.policy import Verdict
from kameleoon_relay.delivery.tokens import Token, TokenCache, TokenError, token_key

ANSWER_GRACE = 5.0  # seconds beyond the fetch's own timeout before a borrower gives up
MAX_MESSAGE = 64 * 1024  # a token answer; datagrams on a Unix socket stay whole
LENDER_CONNECTIONS = 4


def token_link() -> tuple[socket.socket, socket.socket]:
    """(serve's end, the delivery process's end)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    ours.setblocking(False)
    return ours, theirs


class TokenLender:
    """`serve`'s side: the one `TokenCache`, lent to every delivery process.
    `attach(sock)` when a process starts, `detach(sock)` when it ends, `await close()`."""

    def __init__(self, current: Callable[[], Config]) -> None:
        self._current = current
        self._cache = TokenCache()
        self._session: Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"TokenLender(fetches={self._cache.fetches})"

    @property
    def fetches(self) -> int:
        return self._cache.fetches

    def attach(self, sock: socket.socket) -> None:
        asyncio.get_running_loop().add_reader(sock.fileno(), self._receive, sock)

    def detach(self, sock: socket.socket) -> None:
        asyncio.get_running_loop().remove_reader(sock.fileno())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _receive(self, sock: socket.socket) -> None:
        while True:
            try:
                message = orjson.loads(sock.recv(MAX_MESSAGE))
            except (BlockingIOError, OSError):
                return
            except orjson.JSONDecodeError:
                continue
            if not isinstance(message, dict):
                continue
            destination = self._destination(message)
            if "drop" in message:
                # At once, before a "get" sent after it is answered (datagrams keep order).
                if destination is not None and isinstance(message["drop"], str):
                    self._cache.drop_key(message["key"], message["drop"])
            elif "get" in message:
                task = asyncio.create_task(self._lend(sock, message, destination))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _destination(self, message: dict[str, Any]) -> DestinationConfig | None:
        """The destination in serve's config, if its credentials hash to the same key."""
        try:
            destination = self._current().destination(str(message.get("destination")))
        except KeyError:
            return None
        return destination if token_key(destination) == message.get("key") else None

    async def _lend(
        self, sock: socket.socket, message: dict[str, Any], destination: DestinationConfig | None
    ) -> None:
        answer: dict[str, Any] = {"id": message["get"]}
        if destination is None:
            answer |= {
                "error": "the serving process has another configuration for this destination"
                " (a reload in progress): retried",
                "verdict": Verdict.RETRY.value,
                "status": None,
            }
        else:
            timeout = float(message.get("timeout") or 10.0)
            if self._session is None:
                self._session = http_session(max_connections=LENDER_CONNECTIONS)
            try:
                token = await self._cache.token(self._session, destination, timeout)
            except TokenError as error:
                answer |= {"error": str(error), "verdict": error.verdict.value}
                answer["status"] = error.status
            else:
                answer |= {"token": token.value, "ttl": token.refresh_at - time.monotonic()}
        with contextlib.suppress(OSError):  # full or gone: the borrower retries later
            sock.send(orjson.dumps(answer))


class BorrowedTokens:
    """A delivery process's side: tokens asked of `serve`, kept until serve would replace
    them. `start()` in the event loop; `close()` at the end. A `TokenSource`."""

    def __init__(self, link: socket.socket, grace: float = ANSWER_GRACE) -> None:
        self._link = link
        self._grace = grace
        self._tokens: dict[str, Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.asks = 0  # asked of serve, for tests and curiosity

    def __repr__(self) -> str:
        return f"BorrowedTokens(asks={self.asks})"

    def start(self) -> None:
        self._link.setblocking(False)
        asyncio.get_running_loop().add_reader(self._link.fileno(), self._receive)

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self._link.fileno())
        for waiter in self._waiting.values():
            waiter.cancel()

    async def bearer(self, client: Client, destination: DestinationConfig, timeout: float) -> str:
        key = token_key(destination)
        token = self._tokens.get(key)
        if token is not None and token.live():
            return token.value
        async with self._locks.setdefault(key, asyncio.Lock()):
            token = self._tokens.get(key)
            if token is None or not token.live():
                token = await self._ask(destination, key, timeout)
                self._tokens[key] = token
            return token.value

    def drop(self, destination: DestinationConfig, value: str) -> None:
        key = token_key(destination)
        token = self._tokens.get(key)
        if token is not None and token.is_(value):
            del self._tokens[key]
        # Lost (serve gone or swamped): serve lends the refused token again and the next
        # 401 says so again.
        message = {"drop": value, "destination": destination.name, "key": key}
        with contextlib.suppress(OSError):
            self._link.send(orjson.dumps(message))

    async def _ask(self, destination: DestinationConfig, key: str, timeout: float) -> Token:
        where = destination.options.get("token_url")
        number = next(self._ids)
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[number] = waiter
        message = {"get": number, "destination": destination.name, "key": key, "timeout": timeout}
        self.asks += 1
        wait = timeout + self._grace
        try:
            self._link.send(orjson.dumps(message))
            answer = await asyncio.wait_for(waiter, wait)
        except (OSError, TimeoutError):
            raise TokenError(
                f"OAuth token from {where}: the serving process did not answer within {wait:g} s",
                Verdict.RETRY,
            ) from None
        finally:
            self._waiting.pop(number, None)
        if "token" in answer:
            return Token(answer["token"], time.monotonic() + float(answer["ttl"]))
        status = answer.get("status")
        verdict = Verdict.FAIL if answer.get("verdict") == Verdict.FAIL.value else Verdict.RETRY
        raise TokenError(
            str(answer.get("error")), verdict, status if isinstance(status, int) else None
        )

    def _receive(self) -> None:
        while True:
            try:
                answer = orjson.loads(self._link.recv(MAX_MESSAGE))
            except (BlockingIOError, OSError):
                return
            except orjson.JSONDecodeError:
                continue
            waiter = self._waiting.get(answer.get("id")) if isinstance(answer, dict) else None
            if waiter is not None and not waiter.done():  # not given up on meanwhile
                waiter.set_result(answer)
