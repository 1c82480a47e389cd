"""The OpenAPI 3.1 document served at `/openapi.json`: every endpoint the relay answers."""

from __future__ import annotations

from typing import Any

from kameleoon_relay.ingest.limits import MAX_EVENT_DEPTH
from kameleoon_relay.ingest.segment import BATCH_ENDPOINTS, ENDPOINT_TYPES
from kameleoon_relay.store.models import REPLAY_STATES, REPORTED_STATES
from kameleoon_relay.web.body import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_BODY_DEPTH,
    MAX_MESSAGE_BYTES,
)

Schema = dict[str, Any]

_ERROR = {"$ref": "#/components/schemas/Error"}
_EVENT = {"$ref": "#/components/schemas/Event"}
_WRITE_KEY = {"description": "the write key, read when no Authorization header carries one"}


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(_ERROR, description)


_ADMIN_ERRORS = {
    "401": _error("admin_token is set and the bearer token is missing or wrong"),
    "403": _error(
        "no admin_token is set and the caller is not on loopback; or the Host is not a "
        "loopback name nor in allowed_hosts; or a state change came from another site"
    ),
    "415": _error("a request body not sent as content-type: application/json"),
    "429": _error("too many wrong admin tokens from this client: see Retry-After"),
}


def _ingest_operation(endpoint: str) -> Schema:
    batch = endpoint in BATCH_ENDPOINTS
    kind = "batch" if batch else ENDPOINT_TYPES[endpoint]
    limit = MAX_BATCH_BYTES if batch else MAX_MESSAGE_BYTES
    body = (
        {"$ref": "#/components/schemas/Batch"}
        if batch
        else {"allOf": [_EVENT, {"properties": {"writeKey": _WRITE_KEY}}]}
    )
    summary = (
        f"Ingest a batch of up to {MAX_BATCH_EVENTS} events ({limit // 1024} KB)"
        if batch
        else f"Ingest one {kind} event ({limit // 1024} KB at most); the path sets its type"
    )
    return {
        "tags": ["ingest"],
        "summary": summary,
        "operationId": f"ingest_{endpoint}",
        "security": [{"writeKey": []}, {}],
        "requestBody": {
            "required": True,
            "description": "JSON; analytics.js sends it as text/plain. gzip accepted.",
            "content": {"application/json": {"schema": body}, "text/plain": {"schema": body}},
        },
        "responses": {
            "200": _json(
                {
                    "type": "object",
                    "required": ["success"],
                    "properties": {
                        "success": {"const": True},
                        "rejected": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "a batch's events that broke the Segment Spec, "
                            "each problem prefixed `batch[i]: `; kept apart (GET /api/rejected)",
                        },
                    },
                },
                "every event is durably stored (a batch's invalid ones apart, as rejected)",
            ),
            "400": _error(
                f"unparsable, oversized, nested deeper than {MAX_BODY_DEPTH} levels, or (not "
                f"in a batch) the event breaks the Segment Spec or nests deeper than "
                f"{MAX_EVENT_DEPTH} levels"
            ),
            "401": _error("unknown or missing write key"),
            "415": _error("a content-encoding other than gzip"),
            "503": _error("the store is unavailable; retry"),
        },
    }


def _admin(summary: str, response: Schema, **extra: Any) -> Schema:
    responses = {"200": _json(response, summary), **_ADMIN_ERRORS}
    responses.update(extra.pop("responses", {}))
    return {
        "tags": ["admin"],
        "summary": summary,
        "security": [{"adminToken": []}],
        "responses": responses,
        **extra,
    }


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def openapi_document(ingest_paths: dict[str, str]) -> Schema:
    states = {
        "type": "string",
        "enum": list(REPORTED_STATES),
        "description": "`retrying`: pending, attempted before (as /api/stats counts it)",
    }
    paths: Schema = {
        path: {"post": _ingest_operation(endpoint)} for path, endpoint in ingest_paths.items()
    }
    paths["/api/stats"] = {
        "get": _admin(
            "Events received and deliveries by state, per destination and action",
            {"type": "object"},
            operationId="stats",
        )
    }
    paths["/api/deliveries"] = {
        "get": _admin(
            "Delivery summaries (one per event and destination), newest first",
            {
                "type": "object",
                "properties": {
                    "deliveries": {"type": "array", "items": {"type": "object"}},
                    "next": {"type": "integer", "description": "pass as `before` for more"},
                },
            },
            operationId="list_deliveries",
            parameters=[
                _query("state", states, "only deliveries in this state"),
                _query("destination", {"type": "string"}, "only this destination"),
                _query("action", {"type": "string"}, "only this action"),
                _query("message_id", {"type": "string"}, "only the event with this messageId"),
                _query("user_id", {"type": "string"}, "only events of this userId"),
                _query("since", {"type": "string"}, "events received since (ISO 8601 or 2h)"),
                _query("until", {"type": "string"}, "events received before (ISO 8601 or 2h)"),
                _query("before", {"type": "integer", "minimum": 1}, "paging: ids below this"),
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                    "how many",
                ),
            ],
            responses={"400": _error("bad state, limit, time or paging cursor")},
        )
    }
    paths["/api/rejected"] = {
        "get": _admin(
            "Events of accepted batches that broke the Segment Spec, newest first, with the "
            "problems found",
            {
                "type": "object",
                "properties": {"rejected": {"type": "array", "items": {"type": "object"}}},
            },
            operationId="list_rejected",
            parameters=[
                _query(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
                    "how many",
                ),
            ],
            responses={"400": _error("bad limit")},
        )
    }
    paths["/api/deliveries/{delivery_id}"] = {
        "get": _admin(
            "One delivery: its event, request (secrets masked), response and attempts",
            {"type": "object"},
            operationId="get_delivery",
            parameters=[
                {
                    "name": "delivery_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            ],
            responses={"404": _error("no such delivery")},
        )
    }
    paths["/api/preview"] = {
        "post": _admin(
            "The event tester: what each destination would receive for an event",
            {
                "type": "object",
                "properties": {"messageId": {"type": "string"}, "deliveries": {"type": "array"}},
            },
            operationId="preview",
            parameters=[_query("source", {"type": "string"}, "source name to test as")],
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                _EVENT,
                                {
                                    "type": "object",
                                    "required": ["event"],
                                    "properties": {"event": _EVENT, "source": {"type": "string"}},
                                },
                            ]
                        }
                    }
                },
            },
            responses={"400": _error("the body is not a JSON object")},
        )
    }
    paths["/api/replay"] = {
        "post": _admin(
            "Send stored events again, planned with the config in force",
            {
                "type": "object",
                "properties": {
                    "matched": {"type": "integer"},
                    "requeued": {"type": "integer"},
                    "dry_run": {"type": "boolean"},
                    "plan": {"type": "object", "description": "dry run: per destination, action"},
                    "example": {"type": ["object", "null"], "description": "dry run: a request"},
                },
            },
            operationId="replay",
            requestBody={
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "state": {
                                    "enum": list(REPLAY_STATES),
                                    "default": "dead",
                                },
                                "since": {
                                    # format applies to the string form only
                                    "type": ["string", "number", "null"],
                                    "format": "date-time",
                                    "description": "events received at or after: an ISO "
                                    "8601 date-time or epoch seconds (null: any time)",
                                },
                                "until": {
                                    "oneOf": [{"type": "string"}, {"type": "number"}],
                                    "description": "events received before",
                                },
                                "destination": {"type": ["string", "null"]},
                                "message_id": {"type": ["string", "null"]},
                                "user_id": {"type": ["string", "null"]},
                                "dry_run": {"type": "boolean", "default": False},
                            },
                        }
                    }
                },
            },
            responses={"400": _error("bad state, time, unknown destination or dry_run")},
        )
    }
    paths["/api/config/reload"] = {
        "post": _admin(
            "Read the config file again; an invalid one is refused and the running one stays",
            {"type": "object", "properties": {"reloaded": {"type": "boolean"}}},
            operationId="reload_config",
            responses={"422": _error("the new config is invalid (the running one stays)")},
        )
    }
    paths["/metrics"] = {
        "get": {
            "tags": ["operations"],
            "summary": "Prometheus metrics (guarded as the admin API: Bearer admin_token)",
            "security": [{"adminToken": []}],
            "responses": {
                "200": {"description": "text exposition format", "content": {"text/plain": {}}},
                **_ADMIN_ERRORS,
            },
        }
    }
    paths["/health"] = {
        "get": {
            "tags": ["operations"],
            "summary": "Liveness",
            "responses": {"200": _json({"type": "object"}, "the relay is up")},
        }
    }
    paths["/openapi.json"] = {
        "get": {
            "tags": ["operations"],
            "summary": "This document",
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kameleoon-relay",
            "version": _version(),
            "description": "Segment-compatible ingest (the HTTP Tracking API) and the "
            "relay's admin API.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "writeKey": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "the source's write key as the user name",
                },
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "admin_token; without one, loopback only",
                },
            },
            "schemas": {
                "Event": {
                    "type": "object",
                    # null is absent: SDKs send it for fields they do not set.
                    "description": "A Segment Spec event; null fields count as absent",
                    "properties": {
                        "type": {"enum": [*sorted(set(ENDPOINT_TYPES.values())), None]},
                        "messageId": {"type": ["string", "null"]},
                        # Segment's ingest takes numeric ids too (and so does the relay).
                        "userId": {"type": ["string", "number", "null"]},
                        "anonymousId": {"type": ["string", "number", "null"]},
                        "groupId": {"type": ["string", "number", "null"]},
                        "previousId": {"type": ["string", "number", "null"]},
                        "event": {"type": ["string", "null"]},
                        "name": {"type": ["string", "null"]},
                        "category": {"type": ["string", "null"]},
                        "properties": {"type": ["object", "null"]},
                        "traits": {"type": ["object", "null"]},
                        "context": {"type": ["object", "null"]},
                        "integrations": {"type": ["object", "null"]},
                        "timestamp": {"type": ["string", "null"], "format": "date-time"},
                        "originalTimestamp": {"type": ["string", "null"], "format": "date-time"},
                        "sentAt": {"type": ["string", "null"], "format": "date-time"},
                    },
                },
                "Batch": {
                    "type": "object",
                    "required": ["batch"],
                    "properties": {
                        "batch": {
                            "type": "array",
                            "maxItems": MAX_BATCH_EVENTS,
                            # Not _EVENT: an event breaking the Spec is kept apart, and the
                            # rest of the batch accepted (an SDK drops a batch answered 400).
                            "items": {
                                "type": "object",
                                "description": "an Event; one breaking the Segment Spec is "
                                "kept apart as rejected and the rest of the batch accepted",
                            },
                        },
                        # Batch-level fields only fill the events; what is wrong with them
                        # shows in the events they reach (kept apart as rejected).
                        "context": {"description": "an object fills each event's; else ignored"},
                        "integrations": {
                            "description": "an object fills each event's; else ignored"
                        },
                        "sentAt": {
                            "description": "a date-time, given to each event lacking its own"
                        },
                        "writeKey": _WRITE_KEY,
                    },
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "success": {"const": False},
                        "error": {"type": "string"},
                        "problems": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kameleoon-relay")
    except PackageNotFoundError:
        return "0"
