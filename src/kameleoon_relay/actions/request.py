from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)  # built once per event: slotted, not frozen (cheaper); read-only
class HttpRequest:
    """One HTTP request an action wants sent. `body` is the exact bytes to send."""

    method: str
    url: str
    headers: Mapping[str, str]
    json: Any
    body: bytes = field(repr=False, default=b"")
    # A line-per-event body (Kameleoon's Data API): the lines, shown instead of `json`,
    # and what delivery joins when it sends many events in one request.
    lines: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        # Never show the credential: reprs end up in logs and tracebacks.
        from kameleoon_relay.secrets import mask_headers

        headers = mask_headers(self.headers)
        return f"HttpRequest(method={self.method!r}, url={self.url!r}, headers={headers!r})"

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
        }
        if self.lines is None:
            shown["json"] = self.json
        else:
            shown["lines"] = list(self.lines)
        return shown
