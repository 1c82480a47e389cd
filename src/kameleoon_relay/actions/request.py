from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request an action wants sent. `body` is the exact bytes to send."""

    method: str
    url: str
    headers: dict[str, str]
    json: Any
    body: bytes = field(repr=False, default=b"")

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "headers": self.headers, "json": self.json}
