"""Our Data API lines against Kameleoon's own Python SDK (`kameleoon-client-python`).

Each generated event goes through our compiled pipeline (preset mapping, payload
validation, perform); the same inputs go through the SDK's `Conversion`,
`CustomData` and `PageView` and its tracking builder's visitor suffix. Lines must
be identical once the SDK's random nonce is replaced by ours. The CI run checks
`KAMELEOON_RELAY_DATA_API_CASES` cases (1,000 by default); set it to 10000 or more
for the long form.
"""

from __future__ import annotations

import os
import random
import re
from typing import Any

import pytest
from kameleoon.data.conversion import Conversion
from kameleoon.data.custom_data import CustomData
from kameleoon.data.page_view import PageView
from kameleoon.managers.tracking.tracking_builder import TrackingBuilder
from kameleoon.network.query_builder import QueryParam, QueryParams

from kameleoon_relay.config.model import DestinationConfig, SubscriptionConfig
from kameleoon_relay.destinations.kameleoon_data_api import KAMELEOON_DATA_API
from kameleoon_relay.destinations.kameleoon_data_api.options import parse_options
from kameleoon_relay.ingest import as_js_value
from kameleoon_relay.pipeline.compile import request_builder

CASES = int(os.environ.get("KAMELEOON_RELAY_DATA_API_CASES", "1000"))
ENDPOINT = "https://data.kameleoon.io"
NONCE = re.compile(r"^nonce=([0-9A-F]{16})&")
GOALS = {"Order Completed": 424242, "Signed Up": 7, "Ünïcode gôal ✓": 99}
CUSTOM_DATA = {"plan": 3, "company": 7, "tags": 12, "näme with space": 0}
_add_line_params = TrackingBuilder._TrackingBuilder__add_line_params  # the SDK's suffix

ALPHABETS = (
    "abcdefghijklmnopqrstuvwxyz0123456789",
    " &=?%+#/:;,@$!*'()~._-",
    "éàüßçñøÅ€£¥",
    "日本語中文한국어",
    "😀🎉👍🏽🇫🇷",
    '\t"\\<>[]{}|^`',
)


def _text(rng: random.Random, longest: int = 60) -> str:
    length = rng.choice((1, 2, 5, rng.randint(1, longest), longest))
    return "".join(rng.choice(rng.choice(ALPHABETS)) for _ in range(length))


def _revenue(rng: random.Random) -> tuple[Any, float | None]:
    """A revenue as events carry it, and the float the SDK gets (None: absent, 0.0)."""
    number = rng.choice(
        [0, 10, 1, -5, 12.5, 0.1, 1e-7, 123456789.125, 1e20, 2**53, 99.99, -0.25, 1e16, 3.0]
    )
    form = rng.choice(("number", "string", "padded", "absent"))
    if form == "absent":
        return None, None
    if form == "number":
        return number, float(number)
    text = repr(float(number)) if isinstance(number, float) else str(number)
    if form == "padded":
        text = f" {text} "
    return text, float(text)


def _visitor_code(rng: random.Random) -> str:
    return _text(rng, 100)[:100] if rng.random() < 0.9 else "".join(["v"] * rng.randint(90, 100))


def _build(action: str) -> Any:
    subscription = SubscriptionConfig("case", "true", action, None)
    options, problems = parse_options({"goals": GOALS, "custom_data": CUSTOM_DATA})
    assert not problems
    settings = {"clientId": "id", "clientSecret": "secret", "sitecode": "1q2w3e4r5t"}
    destination = DestinationConfig(
        "direct", "kameleoon-data-api", settings, ENDPOINT, (subscription,), options=options
    )
    return request_builder(KAMELEOON_DATA_API, subscription, destination)


BUILDERS = {action: _build(action) for action in KAMELEOON_DATA_API.actions}


def _sdk_lines(data: list[Any], nonces: list[str], code: str, user_agent: str | None) -> list[str]:
    """The SDK's lines for `data` with our nonces (theirs are random)."""
    lines = []
    visitor_param = str(QueryParam(QueryParams.VISITOR_CODE, code))
    for item, nonce in zip(data, nonces, strict=True):
        item._nonce = nonce
        lines.append(_add_line_params(item.encode_query(), visitor_param, user_agent))
        user_agent = None
    return lines


def _case(rng: random.Random) -> tuple[str, dict[str, Any], Any]:
    """(action, event, a function giving the SDK's lines from our nonces)."""
    code = _visitor_code(rng)
    user_agent = rng.choice([None, "Mozilla/5.0 (X11; Linux x86_64) Chrome/120", _text(rng)])
    context = {"userAgent": user_agent} if user_agent else {}
    action = rng.choice(list(BUILDERS))
    where = rng.choice(("properties", "traits"))
    if action == "trackConversion":
        event_name = rng.choice(list(GOALS))
        raw, revenue = _revenue(rng)
        properties: dict[str, Any] = {"kameleoonVisitorCode": code}
        if raw is not None:
            properties["revenue"] = raw
        event = {"type": "track", "event": event_name, "properties": properties}
        made = [Conversion(GOALS[event_name], revenue if revenue is not None else 0.0)]
    elif action == "setCustomData":
        data: dict[str, Any] = {"kameleoonVisitorCode": code}
        made = []
        for name, index in CUSTOM_DATA.items():
            kind = rng.choice(("absent", "text", "list", "int", "bool", "long"))
            if kind == "absent":
                continue
            if kind == "text":
                value: Any = _text(rng)
                values = (value,)
            elif kind == "long":
                value = _text(rng, 3000)
                values = (value,)
            elif kind == "list":
                value = [_text(rng, 10) for _ in range(rng.randint(1, 4))]
                values = tuple(value)
            elif kind == "int":
                value = rng.randint(-(10**9), 10**9)
                values = (str(value),)
            else:
                value = rng.random() < 0.5
                values = ("true" if value else "false",)
            data[name] = value
            made.append(CustomData(index, *values))
        if not made:
            data["plan"] = "free"
            made.append(CustomData(CUSTOM_DATA["plan"], "free"))
        kind = "identify" if where == "traits" else "track"
        event = {"type": kind, "event": "Anything", where: data}
        if kind == "identify":
            event.pop("event")
    else:
        href = rng.choice(["https://shop.example/", "https://x.test/a b?q=é&r=1#top", ""]) + _text(
            rng, 2000
        )
        title = rng.choice([None, _text(rng), _text(rng, 500)])
        name = rng.choice([None, _text(rng)])
        properties = {"kameleoonVisitorCode": code, "url": href}
        if title is not None:
            properties["title"] = title
        event = {"type": "page", "properties": properties}
        if name is not None:
            event["name"] = name
        made = [PageView(href, title if title is not None else name)]
    event.update({"userId": "u", "messageId": f"m-{rng.getrandbits(64):x}", "context": context})

    def sdk(nonces: list[str]) -> list[str]:
        return _sdk_lines(made, nonces, code, user_agent)

    return action, event, sdk


@pytest.mark.parametrize("seed", range(4))
def test_lines_equal_the_sdks_but_for_the_nonce(seed: int) -> None:
    rng = random.Random(seed)
    for number in range(CASES // 4):
        action, event, sdk = _case(rng)
        request = BUILDERS[action](as_js_value(event))
        ours = list(request.lines)
        nonces = []
        for line in ours:
            match = NONCE.match(line)
            assert match, line
            nonces.append(match.group(1))
        assert len(set(nonces)) == len(nonces)
        assert ours == sdk(nonces), f"seed {seed} case {number}: {event!r}"
        assert request.body == "\n".join(ours).encode()


def test_a_retry_repeats_the_nonces_and_other_events_do_not() -> None:
    event = {
        "type": "identify",
        "userId": "u",
        "messageId": "m-1",
        "traits": {"kameleoonVisitorCode": "vc", "plan": "pro", "company": "Acme"},
    }
    first = BUILDERS["setCustomData"](as_js_value(event)).lines
    again = BUILDERS["setCustomData"](as_js_value(event)).lines
    other = BUILDERS["setCustomData"](as_js_value({**event, "messageId": "m-2"})).lines
    assert first == again
    nonces = {line[:22] for line in first}
    assert len(nonces) == 2
    assert nonces.isdisjoint(line[:22] for line in other)
