"""`/health`: 200 `ok`, or 503 `degraded` with the reasons, for load balancers and people.

Degraded while the database does not answer or its disk is full (ingest answers 503
then), or while queued work has no live delivery process to send it (between a delivery
process's death and its restart; a crash loop keeps it so).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from kameleoon_relay.web.responses import JSONResponse

NO_DELIVERY = "no live delivery process for queued work"


async def health(request: Request) -> Response:
    relay = getattr(request.app.state, "relay", None)
    if relay is None:  # the lifespan has not run (a test client without it)
        return JSONResponse({"status": "ok", "database": "up"})
    reasons: list[str] = []
    database = "up"
    if not await relay.store.ping():
        database = "down"
        reasons.append("database down")
    elif await relay.store.disk_full():
        reasons.append("disk full")
    if database == "up" and not relay.delivery_alive() and await relay.store.pending_destinations():
        reasons.append(NO_DELIVERY)
    if not reasons:
        return JSONResponse({"status": "ok", "database": database})
    body = {"status": "degraded", "database": database, "reasons": reasons}
    return JSONResponse(body, status_code=503)
