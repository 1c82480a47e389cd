"""Database URLs: shown without their password; split into libpq's part and ours."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Our own PostgreSQL URL options; libpq refuses options it does not know.
POOL_OPTIONS = ("pool_size", "pool_timeout")


def masked_url(url: str) -> str:
    """The URL as it may be shown or logged: any password replaced by ***."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can read: show its scheme only
        return url.partition(":")[0] + "://***"
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """(the URL for libpq, our pool options)."""
    parts = urlsplit(url)
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in POOL_OPTIONS:
            ours[key] = value
        else:
            theirs.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(theirs))), ours
