"""CORS for the ingest paths, so analytics.js on any site can post to the relay.

analytics.js sends `Authorization` and `Content-Type: text/plain`, so browsers send
a preflight first. Write keys are public by design (they sit in every page), so
any origin may post; the admin API gets no CORS headers at all.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

ALLOWED_HEADERS = "Authorization, Content-Type, Content-Encoding, X-Retry-Count"


def cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if not origin:
        return {"Access-Control-Allow-Origin": "*"}
    # Echoing the origin (not "*") keeps `credentials: "include"` fetches working.
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def preflight(request: Request) -> Response:
    headers = {
        **cors_headers(request),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get(
            "access-control-request-headers", ALLOWED_HEADERS
        ),
        "Access-Control-Max-Age": "86400",
    }
    return Response(status_code=204, headers=headers)
