"""JSON responses rendered with orjson, and the one shape every error takes."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # OPT_NON_STR_KEYS: stats are keyed by tuples flattened to strings upstream,
        # but a stray int key must not turn an answer into a 500.
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error(
    status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """`{"success": false, "error": message, ...}`: Segment's clients read `error`."""
    body = {"success": False, "error": message, **extra}
    return JSONResponse(body, status_code=status, headers=headers)
