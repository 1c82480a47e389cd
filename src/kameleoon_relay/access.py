"""Who may call the admin side: the admin API, /metrics, the dashboard, the sandbox's controls.

Shared by the relay and the sandbox. In order, a request must:
- name a loopback `Host` (localhost, 127.x, [::1]), or one of `allowed_hosts`; with
  `admin_token` set and no `allowed_hosts`, any Host. A page of another site that
  rebinds its name to 127.0.0.1 reaches this port under its own name, so it stops here.
- if it changes state (not GET, HEAD or OPTIONS), come from the relay's own pages: an
  `Origin` naming this Host (or one of `allowed_hosts`), or no `Origin` and a header no
  cross-site page can send without asking first (Authorization, X-Requested-With,
  X-CSRF-Token, a JSON content-type, a method other than POST); and a body it carries
  must be declared JSON.
- carry the bearer token when one is configured (compared with `hmac.compare_digest`,
  so timing reveals nothing; wrong guesses are throttled per client, throttle.py), or
  else come from a loopback address.

The Segment ingest paths (/v1/*) are not guarded: SDKs post to them from any origin.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from ipaddress import ip_address
from urllib.parse import urlsplit

from starlette.requests import Request

from kameleoon_relay.throttle import FailureThrottle

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Headers a cross-site page cannot send without a CORS preflight, which nothing here grants.
PREFLIGHTED_HEADERS = ("authorization", "x-requested-with", "x-csrf-token")
SIMPLE_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def is_loopback(request: Request) -> bool:
    return _is_loopback_address(client_of(request))


def _is_loopback_address(host: str) -> bool:
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(authority: str) -> str:
    """`Host` or an origin's authority without its port, lower-cased ([v6] kept bracketed)."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority.partition("]")[0] + "]"
    return authority.partition(":")[0]


def is_loopback_name(name: str) -> bool:
    """Names that only ever mean this machine (RFC 6761: *.localhost too)."""
    return (
        name in ("localhost", "localhost.")
        or name.endswith(".localhost")
        or (_is_loopback_address(name))
    )


def _authority(value: str) -> str:
    """host[:port], the default ports dropped, for comparing an Origin with a Host."""
    value = value.strip().lower()
    for default in (":80", ":443"):
        if value.endswith(default):
            return value[: -len(default)]
    return value


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


class AdminGuard:
    """The rules above for one configuration (token, allowed_hosts) and one throttle."""

    def __init__(
        self,
        token: str | None,
        allowed_hosts: tuple[str, ...] = (),
        throttle: FailureThrottle | None = None,
    ) -> None:
        self._token = token.encode() if token else None
        self.allowed_hosts = frozenset(allowed_hosts)
        self.throttle = throttle or FailureThrottle()

    @property
    def configured(self) -> bool:
        return self._token is not None

    def host_allowed(self, request: Request) -> bool:
        name = host_name(request.headers.get("host", ""))
        if is_loopback_name(name) or name in self.allowed_hosts:
            return True
        return self.configured and not self.allowed_hosts

    def origin_allowed(self, request: Request) -> bool:
        """A state-changing request comes from the relay's own pages (see the module)."""
        origin = request.headers.get("origin")
        if origin is None:
            declared = media_type(request)
            return (
                request.method != "POST"  # DELETE, PUT ...: preflighted too
                or any(h in request.headers for h in PREFLIGHTED_HEADERS)
                or (declared != "" and declared not in SIMPLE_CONTENT_TYPES)
            )
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (a sandboxed frame, a file) and anything odd
        if _authority(parts.netloc) == _authority(request.headers.get("host", "")):
            return True
        return host_name(parts.netloc) in self.allowed_hosts

    def surface_refusal(self, request: Request, *, forms: bool = False) -> Refusal | None:
        """Host, Origin and content-type; `forms` lets a state change post a form (login)."""
        if not self.host_allowed(request):
            return Refusal(403, self._host_message())
        if request.method in SAFE_METHODS:
            return None
        if not self.origin_allowed(request):
            return Refusal(
                403,
                "cross-site request refused: send an Origin of this site, or no Origin "
                "and an Authorization or X-Requested-With header",
            )
        if not forms and _has_body(request) and media_type(request) != JSON_TYPE:
            return Refusal(415, f"the body must be JSON, sent with content-type: {JSON_TYPE}")
        return None

    def _host_message(self) -> str:
        allowed = ", ".join(sorted(self.allowed_hosts)) or "none"
        return (
            "this Host is not allowed: use a loopback name (localhost, 127.0.0.1), or list "
            f"the name in allowed_hosts (now: {allowed})"
        )

    def token_matches(self, supplied: str) -> bool:
        return self._token is not None and hmac.compare_digest(supplied.encode(), self._token)

    def locked_out(self, request: Request) -> Refusal | None:
        """429 while this client is locked out for wrong tokens (throttle.py)."""
        wait = self.throttle.retry_after(client_of(request))
        if not wait:
            return None
        return Refusal(
            429,
            f"too many wrong admin tokens from this client: retry in {wait} s",
            {"Retry-After": str(wait)},
        )

    def refusal(self, request: Request, what: str = "the admin API") -> Refusal | None:
        """Everything above, the bearer token (or loopback) last; None: let it through."""
        refused = self.surface_refusal(request)
        if refused is not None:
            return refused
        if self._token is None:
            if is_loopback(request):
                return None
            return Refusal(403, f"{what} answers on loopback only unless admin_token is set")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if not value.strip():
            return Refusal(401, "admin token required", {"WWW-Authenticate": "Bearer"})
        if (locked := self.locked_out(request)) is not None:
            return locked
        if scheme.lower() != "bearer":  # nothing was compared: not a guess
            return Refusal(401, "admin token required", {"WWW-Authenticate": "Bearer"})
        if self.token_matches(value.strip()):
            self.throttle.succeeded(client_of(request))
            return None
        self.throttle.failed(client_of(request))
        return Refusal(401, "wrong admin token", {"WWW-Authenticate": "Bearer"})
