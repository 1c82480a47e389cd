"""Sending planned requests at once, without the queue: for embedding and scripts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from kameleoon_relay.delivery.client import sync_client
from kameleoon_relay.delivery.tokens import TokenError, needs_token, with_fresh_token
from kameleoon_relay.pipeline import Pipeline


def send_event(
    pipeline: Pipeline, event: dict[str, Any], source: str | None = None, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Plan `event` and send each request now (blocking, no queue, no retries).

    For embedding and scripts; the relay itself queues and retries. Returns one
    entry per planned delivery with `status` and `response` (or `error`).
    """
    results: list[dict[str, Any]] = []
    with sync_client(timeout=timeout) as client:
        for entry in pipeline.plan(event, source):
            shown = entry.to_dict()
            if entry.request is not None:
                request = entry.request
                destination = pipeline.config.destination(entry.destination)
                if needs_token(destination):  # the Data API: a token fetched for this send
                    try:
                        request = asyncio.run(with_fresh_token(request, destination, timeout))
                    except TokenError as error:
                        shown["error"] = {"type": "TokenError", "message": str(error)}
                        results.append(shown)
                        continue
                try:
                    response = client.request(
                        request.method, request.url, headers=request.headers, content=request.body
                    )
                    shown["status"] = response.status_code
                    shown["response"] = response.text[:2000]
                except httpx.HTTPError as error:
                    shown["error"] = {"type": type(error).__name__, "message": str(error)}
            results.append(shown)
    return results
