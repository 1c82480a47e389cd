"""Who may see the dashboard: a session cookie after `/login`, or loopback callers.

With `admin_token` set, `/login` takes the token (compared in constant time) and sets
an HttpOnly, SameSite=Strict cookie holding a random session id; the session lives in
this process only and ends when the token changes. Without a token, loopback callers
get a session without logging in. Every request passes access.py's Host check, and
every state-changing one its Origin check (the pages' scripts send X-Requested-With)
and carries the session's CSRF token (`X-CSRF-Token` header or a `csrf_token` form
field). Wrong tokens at `/login` are throttled per client (throttle.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kameleoon_relay.access import is_loopback
from kameleoon_relay.web.responses import error
from kameleoon_relay.web.state import relay_of

COOKIE = "kr_session"
LOGIN_COOKIE = "kr_login"  # double-submit CSRF token of the login form
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 1000

Handler = Callable[[Request], Awaitable[Response]]


class Unset:
    """No admin token given: the relay's is read."""


UNSET = Unset()


@dataclass
class Session:
    csrf: str
    expires: float
    token: bytes  # digest of the admin token it was opened with (b"" without one)


def token_digest(token: str | None) -> bytes:
    return hashlib.sha256(token.encode()).digest() if token else b""


class Sessions:
    def __init__(self) -> None:
        self._open: dict[str, Session] = {}

    def create(self, token: str | None) -> tuple[str, Session]:
        now = time.time()
        if len(self._open) >= MAX_SESSIONS:  # drop the expired, then the oldest
            self._open = {k: s for k, s in self._open.items() if s.expires > now}
            while len(self._open) >= MAX_SESSIONS:
                self._open.pop(next(iter(self._open)))
        sid = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), now + SESSION_SECONDS, token_digest(token))
        self._open[sid] = session
        return sid, session

    def find(self, request: Request, admin_token: str | Unset | None = UNSET) -> Session | None:
        """The caller's session, if it is open and was opened with the current token
        (the relay's, unless `admin_token` is given: the mounted sandbox has no relay)."""
        sid = request.cookies.get(COOKIE, "")
        session = self._open.get(sid) if sid else None
        if session is None or session.expires < time.time():
            return None
        if isinstance(admin_token, Unset):
            admin_token = relay_of(request).config.admin_token
        if not hmac.compare_digest(session.token, token_digest(admin_token)):
            return None
        return session

    def opener(self, admin_token: Callable[[], str | None]) -> Callable[[Request], bool]:
        """Whether a request comes from an open dashboard session (for the sandbox page)."""
        return lambda request: self.find(request, admin_token()) is not None

    def drop(self, request: Request) -> None:
        self._open.pop(request.cookies.get(COOKIE, ""), None)


def set_cookie(response: Response, request: Request, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def csrf_ok(session: Session, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(session.csrf.encode(), str(supplied).encode())


class Gate:
    """Wraps dashboard handlers: pages redirect to /login, JSON calls get 401/403."""

    def __init__(self, sessions: Sessions) -> None:
        self.sessions = sessions

    def _session(self, request: Request) -> tuple[Session | None, str | None, Response | None]:
        """(session, new session id to set, refusal)."""
        relay = relay_of(request)
        refused = relay.admin.surface_refusal(request)  # Host, Origin, JSON (access.py)
        if refused is not None:
            return None, None, error(refused.status, refused.message)
        if not relay.admin.configured:
            if not is_loopback(request):
                return (
                    None,
                    None,
                    error(403, "the dashboard answers on loopback only unless admin_token is set"),
                )
            session = self.sessions.find(request)
            if session is None:
                sid, session = self.sessions.create(None)
                return session, sid, None
            return session, None, None
        return self.sessions.find(request), None, None

    def page(self, handler: Callable[[Request, Session], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            session, sid, refusal = self._session(request)
            if refusal is not None:
                return refusal
            if session is None:
                query = request.url.query
                target = quote(request.url.path + (f"?{query}" if query else ""))
                return RedirectResponse(f"/login?next={target}", status_code=303)
            response = await handler(request, session)
            if sid is not None:
                set_cookie(response, request, COOKIE, sid, SESSION_SECONDS)
            return response

        return endpoint

    def api(self, handler: Callable[[Request, Session], Awaitable[Response]]) -> Handler:
        """JSON calls of the pages' scripts; any non-GET must carry X-CSRF-Token."""

        async def endpoint(request: Request) -> Response:
            session, _, refusal = self._session(request)
            if refusal is not None:
                return refusal
            if session is None:
                return error(401, "log in at /login first")
            if request.method != "GET" and not csrf_ok(
                session, request.headers.get("x-csrf-token")
            ):
                return error(403, "missing or wrong CSRF token")
            return await handler(request, session)

        return endpoint
