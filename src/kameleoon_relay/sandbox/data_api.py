"""Kameleoon's Data API, as the sandbox answers it: OAuth tokens, tracking lines, read-back.

- `POST /oauth/token` (client credentials, form body) gives a Bearer token;
- `POST /visit/events?siteCode=…` takes one event per line (`nonce=…&eventType=…&…
  &visitorCode=…`), or with `json=true` a JSON array of objects with the same keys.
  A request is all or nothing: a malformed line is a 400 naming it, and nothing of
  the request is kept. A nonce seen before is counted once and logged as a duplicate;
- `GET /visit/visitor?siteCode&visitorCode&conversion=true&customdata=true` reads back.

Conversions count by goal id, shown with the site's name for that id (`Goal {id}`
when unnamed); custom data is kept by index; pages are views.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from kameleoon_relay.errors import RelayError
from kameleoon_relay.sandbox.config import Account

if TYPE_CHECKING:
    from kameleoon_relay.sandbox.state import Sandbox

SENDER = "data-api"
MAX_BODY = 3_000_000  # Kameleoon's documented limit for one request
MAX_VISITOR_CODE = 100
_NONCE = re.compile(r"^[0-9A-F]{16}$")
_EVENT_TYPES = ("conversion", "customData", "page")


class LineRejected(RelayError, ValueError):
    """A line Kameleoon could not use: the request is answered 400."""


@dataclass(frozen=True)
class Line:
    nonce: str
    event_type: str
    visitor: str
    fields: dict[str, str]
    text: str


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status, media_type="application/json")


def _sandbox(request: Request) -> Sandbox:
    return request.app.state.sandbox


async def oauth_token(request: Request) -> Response:
    sandbox = _sandbox(request)
    sandbox.store.count("token_requests")
    sandbox.schedule_commit()
    try:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    except ClientDisconnect:
        return _json({"error": "invalid_request"}, 400)
    if form.get("grant_type") != "client_credentials":
        return _json({"error": "unsupported_grant_type"}, 400)
    account = sandbox.config.account_for_client(
        form.get("client_id", ""), form.get("client_secret", "")
    )
    if account is None:
        sandbox.store.count("tokens_refused")
        return _json({"error": "invalid_client"}, 401)
    token = sandbox.tokens.issue(account, time.time())
    sandbox.store.count("tokens_issued")
    return _json({"access_token": token, "token_type": "Bearer", "expires_in": sandbox.tokens.ttl})


def _authorized(request: Request, sitecode: str) -> tuple[Account | None, Response | None]:
    sandbox = _sandbox(request)
    account, why = sandbox.tokens.account(request.headers.get("authorization"), time.time())
    if account is None:
        sandbox.store.count("tokens_refused")
        return None, _json({"error": why, "status": 401}, 401)
    if not any(site.sitecode == sitecode for site in account.sites):
        return None, _json(
            {"error": f"siteCode {sitecode!r} is not this client's", "status": 403}, 403
        )
    return account, None


def parse_line(fields: dict[str, str], text: str) -> Line:
    nonce = fields.get("nonce", "")
    if not _NONCE.match(nonce):
        raise LineRejected(f"nonce must be 16 characters from 0-9A-F, got {nonce[:40]!r}")
    event_type = fields.get("eventType", "")
    if event_type not in _EVENT_TYPES:
        raise LineRejected(f"eventType must be one of {', '.join(_EVENT_TYPES)}")
    visitor = fields.get("visitorCode") or fields.get("mappingValue") or ""
    if not visitor or len(visitor) > MAX_VISITOR_CODE:
        raise LineRejected(f"visitorCode must be 1 to {MAX_VISITOR_CODE} characters")
    if event_type == "conversion":
        if not fields.get("goalId", "").isdigit():
            raise LineRejected("goalId must be a goal id (digits)")
        try:
            float(fields.get("revenue", "0"))
        except ValueError:
            raise LineRejected("revenue must be a number") from None
    elif event_type == "customData":
        if not re.fullmatch(r"-?[0-9]+", fields.get("index", "")):
            raise LineRejected("index must be an integer")
        try:
            counts = json.loads(fields.get("valuesCountMap", ""))
        except ValueError:
            counts = None
        if not isinstance(counts, dict):
            raise LineRejected("valuesCountMap must be a JSON object")
    elif not fields.get("href"):
        raise LineRejected("href is required")
    return Line(nonce, event_type, visitor, fields, text)


def _lines(raw: bytes, as_json: bool) -> list[Line]:
    if as_json:
        try:
            items = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise LineRejected("json=true: the body must be a JSON array of events") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise LineRejected("json=true: the body must be a JSON array of objects")
        return [
            _numbered(n, lambda i=item: parse_line(_texts(i), orjson.dumps(i).decode()))
            for n, item in enumerate(items)
        ]
    text = raw.decode("utf-8", "replace")
    return [
        _numbered(n, lambda t=line: parse_line(_query(t), t))
        for n, line in enumerate(text.split("\n"))
        if line.strip()
    ]


def _numbered(number: int, parse: Any) -> Line:
    try:
        return parse()
    except LineRejected as error:
        raise LineRejected(f"line {number + 1}: {error}") from None


def _query(line: str) -> dict[str, str]:
    """A line's fields, the first of each name (urllib's parse_qs, a few times faster)."""
    fields: dict[str, str] = {}
    for pair in line.split("&"):
        key, _, value = pair.partition("=")
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        fields.setdefault(unquote_plus(key) if "%" in key else key, value)
    return fields


def _texts(item: dict[str, Any]) -> dict[str, str]:
    return {
        str(k): v if isinstance(v, str) else orjson.dumps(v).decode()
        for k, v in item.items()
        if v is not None
    }


async def visit_events(request: Request) -> Response:
    sandbox = _sandbox(request)
    store = sandbox.store
    store.count("received")
    sandbox.schedule_commit()
    sitecode = request.query_params.get("siteCode", "")
    try:
        raw = await request.body()
    except ClientDisconnect:
        return _json({"error": "the client hung up", "status": 400}, 400)

    def reject(status: int, reason: str) -> Response:
        store.count("rejected")
        row = (time.time(), sitecode, None, "data-api", None, None, "rejected", None, raw[:4096])
        store.log_event(row, reason=f"{status}: {reason}", sender=SENDER)
        return _json({"error": reason, "status": status}, status)

    _, refused = _authorized(request, sitecode)
    if refused is not None:
        store.count("rejected")
        return refused
    if len(raw) > MAX_BODY:
        return reject(413, f"request body over {MAX_BODY} bytes")
    try:
        lines = _lines(raw, request.query_params.get("json") == "true")
    except LineRejected as error:
        return reject(400, str(error))
    poison = sandbox.refuse
    if poison is not None:
        for number, line in enumerate(lines):
            if poison in line.text:
                return reject(400, f"line {number + 1}: refused (contains {poison!r})")
    site = sandbox.sitecodes[sitecode]
    now = time.time()
    once: dict[tuple[str, str], int] = {}  # visitors touched and goals found, per request
    for line in lines:
        _track(sandbox, sitecode, site.goal_ids, line, now, once)
    return Response(status_code=204)


def _track(
    sandbox: Sandbox,
    sitecode: str,
    goal_ids: dict[int, str],
    line: Line,
    now: float,
    once: dict[tuple[str, str], int],
) -> None:
    store = sandbox.store
    fields, visitor = line.fields, line.visitor
    goal_name: str | None = None
    if line.event_type == "conversion":
        goal_name = goal_ids.get(int(fields["goalId"])) or f"Goal {fields['goalId']}"
        name: str | None = goal_name
    elif line.event_type == "customData":
        name = f"custom data {fields['index']}"
    else:
        name = fields["href"]
    row = [
        now,
        sitecode,
        line.nonce,
        line.event_type,
        name,
        visitor,
        "accepted",
        goal_name,
        line.text,
    ]
    if not store.first_nonce(sitecode, line.nonce, now):
        store.count("duplicates")
        row[6] = "duplicate"
        store.log_event(tuple(row), sender=SENDER)
        return
    store.count("accepted")
    if ("visitor", visitor) not in once:
        store.touch_visitor(sitecode, visitor, now)
        once["visitor", visitor] = 0
    if line.event_type == "conversion":
        assert goal_name is not None
        goal = once.get(("goal", goal_name))
        if goal is None:
            custom = int(fields["goalId"]) not in goal_ids
            goal = once["goal", goal_name] = store.ensure_goal(sitecode, goal_name, custom)
        store.convert(sitecode, visitor, goal, now)
        revenue = float(fields.get("revenue", "0"))
        store.add_revenue(sitecode, visitor, goal, int(fields["goalId"]), revenue, now)
    elif line.event_type == "customData":
        values = list(json.loads(fields["valuesCountMap"]))
        overwrite = fields.get("overwrite", "true") != "false"
        store.set_custom_data(sitecode, visitor, int(fields["index"]), values, overwrite, now)
    else:
        store.view(sitecode, visitor, "page", fields.get("title") or fields["href"], now)
    store.log_event(tuple(row), sender=SENDER)


async def visit_visitor(request: Request) -> Response:
    params = request.query_params
    sitecode, code = params.get("siteCode", ""), params.get("visitorCode", "")
    _, refused = _authorized(request, sitecode)
    if refused is not None:
        return refused
    found = _sandbox(request).store.visitor(sitecode, code)
    answer: dict[str, Any] = {"visitorCode": code, "siteCode": sitecode}
    if params.get("conversion") == "true":
        answer["conversions"] = found["conversions"] if found else []
    if params.get("customdata") == "true":
        answer["customData"] = found["custom_data"] if found else {}
    if params.get("page") == "true":
        answer["pages"] = [v for v in found["views"] if v["kind"] == "page"] if found else []
    return _json(answer)


async def api_data_api(request: Request) -> Response:
    """The sandbox's Data API controls: `{"token_ttl": seconds}`, `{"revoke_tokens": true}`,
    `{"refuse": "text"}` (a request with a line containing it is a 400: a poison event;
    null or "" stops refusing)."""
    sandbox = _sandbox(request)
    tokens = sandbox.tokens
    if request.method == "POST":
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return _json({"error": "expected a JSON object", "status": 400}, 400)
        ttl = body.get("token_ttl")
        if ttl is not None:
            if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= 86400:
                return _json({"error": "token_ttl must be seconds up to 86400", "status": 400}, 400)
            tokens.ttl = float(ttl)
        if body.get("revoke_tokens") is True:
            tokens.revoke_all()
        if "refuse" in body:
            refuse = body["refuse"]
            if refuse is not None and not isinstance(refuse, str):
                return _json({"error": "refuse must be text or null", "status": 400}, 400)
            sandbox.refuse = refuse or None
    return _json({"token_ttl": tokens.ttl, "refuse": sandbox.refuse})
