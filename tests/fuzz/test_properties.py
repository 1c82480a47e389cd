"""Property tests (hypothesis) for the parts that read hostile input: the ingest body
reader, the Spec parser, FQL and the mapping-kit. Random and mutated events, numbers,
dates, nesting and encodings: each input is accepted or refused with the module's own
clear error, never another exception, never a hang (hypothesis's deadline), and what is
accepted can be stored (orjson writes it) and sent (json_stringify writes it)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import string
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from kameleoon_relay.fql import FQLEvaluationError, FQLSyntaxError, compile_trigger
from kameleoon_relay.ingest import SpecError, normalize_event
from kameleoon_relay.ingest.limits import MAX_EVENT_DEPTH
from kameleoon_relay.ingest.segment import batch_events, single_event
from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.json_codec import json_stringify
from kameleoon_relay.js.values import UNDEFINED, nesting_depth
from kameleoon_relay.mapping import MappingError, compile_mapping
from kameleoon_relay.web.body import (
    MAX_BATCH_BYTES,
    MAX_BODY_DEPTH,
    PayloadError,
    parse_object,
    read_body,
)
from tests.fuzz.budget import examples
from tests.fuzz.conftest import TRIED

SETTINGS = settings(
    max_examples=examples(400, 20000),
    deadline=5000,  # ms an input may take: a hang fails the test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    database=None,
)

# -- inputs ----------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**53 - 5, max_value=2**70),
    st.integers(min_value=-(2**70), max_value=-(2**53)),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.1, 1e-7, 1e21, 5e-324, 1.7976931348623157e308, -0.0, 2**64, 2**63]),
)
TEXT = st.one_of(st.text(max_size=20), st.sampled_from(["", "null", "undefined", "\u2028"]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
DATES = st.one_of(
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-05:00",
            "2024-02-30T00:00:00Z",
            "2024-01-01",
            "not a date",
            "+010000-01-01T00:00:00Z",
        ]
    ),
    SCALARS,
)


def deep(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(
            st.sampled_from(["track", "page", "screen", "identify", "group", "alias"]), SCALARS
        ),
        "event": TEXT,
        "name": TEXT,
        "userId": st.one_of(TEXT, NUMBERS),
        "anonymousId": st.one_of(TEXT, SCALARS),
        "groupId": TEXT,
        "previousId": TEXT,
        "messageId": st.one_of(TEXT, SCALARS),
        "timestamp": DATES,
        "originalTimestamp": DATES,
        "sentAt": DATES,
        "properties": st.one_of(
            st.dictionaries(st.text(max_size=8), JSON, max_size=5),
            st.integers(1, 140).map(lambda d: {"deep": deep(d)}),
            JSON,
        ),
        "traits": JSON,
        "context": JSON,
        "integrations": JSON,
    },
)


def mutations(raw: bytes) -> st.SearchStrategy[bytes]:
    """Byte-level damage to a valid body: cut, flipped, spliced, re-encoded."""
    return st.one_of(
        st.integers(0, len(raw)).map(lambda i: raw[:i]),
        st.tuples(st.integers(0, max(0, len(raw) - 1)), st.integers(0, 255)).map(
            lambda t: raw[: t[0]] + bytes([t[1]]) + raw[t[0] + 1 :]
        ),
        st.tuples(st.integers(0, len(raw)), st.binary(max_size=8)).map(
            lambda t: raw[: t[0]] + t[1] + raw[t[0] :]
        ),
        st.integers(1, 300).map(lambda n: b'{"a":' + b"[" * n + raw + b"]" * n + b"}"),
        st.just(raw.decode("utf-8", "replace").encode("utf-16")),
        st.just(b"\xef\xbb\xbf" + raw),
    )


BODIES = st.one_of(
    st.binary(max_size=200),
    # Python's json writes big ints as their digits, as a hostile client would.
    EVENTS.map(lambda e: json.dumps(e, ensure_ascii=False).encode()).flatmap(
        lambda raw: st.one_of(st.just(raw), mutations(raw))
    ),
)


def dumps(value: Any) -> bytes:
    # Python ints past 64 bits are written as the JSON text JS would read.
    return orjson.dumps(value, default=lambda v: float(v) if isinstance(v, int) else str(v))


# -- the body reader -------------------------------------------------------------------


def request_with(body: bytes, chunk: int, headers: dict[str, str]) -> Request:
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(chunks) - 1}
        for i, part in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/batch",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
    }
    return Request(scope, receive)


@SETTINGS
@given(body=BODIES, chunk=st.integers(1, 4096), gzipped=st.booleans(), cut=st.booleans())
def test_the_body_reader_parses_or_refuses_with_a_clear_400(
    body: bytes, chunk: int, gzipped: bool, cut: bool
) -> None:
    TRIED["body reader (bytes, gzip, chunking)"] += 1
    wire = gzip.compress(body) if gzipped else body
    if cut:
        wire = wire[: len(wire) // 2]  # a truncated gzip stream, or a client that hung up
    headers = {"content-encoding": "gzip"} if gzipped else {}
    request = request_with(wire, chunk, headers)
    try:
        data = parse_object(asyncio.run(read_body(request, MAX_BATCH_BYTES)))
    except PayloadError as exc:
        assert 400 <= exc.status < 500 and exc.message
        return
    assert isinstance(data, dict)
    assert nesting_depth(data) <= MAX_BODY_DEPTH


@SETTINGS
@given(body=BODIES, endpoint=st.sampled_from(["track", "batch", "i"]))
def test_every_parsed_event_is_stored_or_refused_with_its_field_named(
    body: bytes, endpoint: str
) -> None:
    TRIED["ingest payloads (random and mutated)"] += 1
    try:
        payload = parse_object(body)
        raws = batch_events(payload) if endpoint == "batch" else single_event(payload, endpoint)
    except PayloadError as exc:
        assert exc.status == 400 and exc.message
        return
    for raw in raws:
        check_event(raw)
        orjson.dumps(raw)  # a rejected batch event is stored as sent


def check_event(raw: Any) -> None:
    try:
        event = normalize_event(raw)
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            field, sep, why = problem.partition(": ")
            assert sep and field and why, problem
        return
    stored = orjson.dumps(event)  # the store's encoder takes it
    assert orjson.loads(stored) == orjson.loads(dumps(event))
    assert nesting_depth(event) <= MAX_EVENT_DEPTH
    assert isinstance(json_stringify(event), str)


@SETTINGS
@given(raw=EVENTS)
def test_the_spec_parser_normalizes_or_names_the_field(raw: dict[str, Any]) -> None:
    TRIED["events (numbers, dates, nesting)"] += 1
    check_event(raw)


@pytest.mark.parametrize("depth", [63, 64, 65, 200, 5000])
def test_nesting_at_and_past_the_limit(depth: int) -> None:
    raw = {"type": "track", "event": "e", "userId": "u", "properties": {"k": deep(depth - 2)}}
    if depth <= MAX_EVENT_DEPTH:
        assert nesting_depth(normalize_event(raw)) == depth
    else:
        with pytest.raises(SpecError, match="nested deeper than 64 levels"):
            normalize_event(raw)


# -- FQL -------------------------------------------------------------------------------

FQL_PIECES = st.sampled_from(
    [
        "type", "event", "properties.total", "traits.plan", "context.a.b", '"track"', "'x'",
        "=", "!=", "<", ">=", "and", "or", "!", "(", ")", "null", "true", "false", "5", "-1e400",
        "contains(", "match(", "lowercase(", "length(", ",", '"', "\\", " ", "in", "[", "]",
    ]
)  # fmt: skip
TRIGGERS = st.one_of(
    st.lists(FQL_PIECES, max_size=12).map(" ".join),
    st.text(alphabet=string.printable, max_size=40),
    st.integers(1, 400).map(lambda n: "(" * n + 'type = "track"' + ")" * n),
    st.integers(1, 400).map(lambda n: "!" * n + 'type = "track"'),
    st.integers(1, 300).map(lambda n: " and ".join(['type = "track"'] * n)),
)


@SETTINGS
@given(trigger=TRIGGERS, event=EVENTS)
def test_fql_compiles_or_says_why_and_evaluates_to_a_boolean(
    trigger: str, event: dict[str, Any]
) -> None:
    TRIED["FQL triggers x events"] += 1
    try:
        predicate = compile_trigger(trigger)
    except FQLSyntaxError as exc:
        assert str(exc)
        return
    try:
        assert predicate(event) in (True, False)
    except FQLEvaluationError as exc:
        assert str(exc)


# -- the mapping-kit -------------------------------------------------------------------

DIRECTIVES = [
    "@path", "@template", "@if", "@case", "@replace", "@arrayPath", "@literal", "@flatten",
    "@json", "@merge", "@transform", "@excludeWhenNull", "@liquid",
]  # fmt: skip
PATHS = st.sampled_from(["$.properties", "$.event", "$.properties.deep", "$.", "$", "x", ""])
MAPPINGS = st.recursive(
    st.one_of(SCALARS, PATHS.map(lambda p: {"@path": p})),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from([*DIRECTIVES, "a", "b", "mode", "value"]), inner,
                        max_size=3),
        st.lists(inner, max_size=3),
        st.fixed_dictionaries({"@json": st.fixed_dictionaries(
            {"mode": st.sampled_from(["encode", "decode"]), "value": inner})}),
        st.fixed_dictionaries({"@template": st.text(alphabet="{}ab. ", max_size=20)}),
        st.fixed_dictionaries({"@liquid": st.text(alphabet="{}%|ab. ", max_size=20)}),
    ),
    max_leaves=12,
)  # fmt: skip
DEEP_STRINGS = st.integers(1, 3000).map(lambda n: "[" * n + "]" * n)


@SETTINGS
@given(mapping=MAPPINGS, event=EVENTS, text=DEEP_STRINGS)
def test_the_mapping_kit_maps_or_says_why(mapping: Any, event: dict[str, Any], text: str) -> None:
    TRIED["mappings x events"] += 1
    event = {**event, "event": text}  # @json decode of deeply nested text
    try:
        mapper = compile_mapping(
            {
                "out": mapping,
                "decoded": {"@json": {"mode": "decode", "value": {"@path": "$.event"}}},
            }
        )
    except MappingError as exc:
        assert exc.problems
        return
    try:
        result = mapper(event)
    except ValueError as exc:  # MappingEvaluationError, NestingTooDeepError: the reference's throws
        assert str(exc)
        return
    if result is not UNDEFINED:
        # NestingTooDeepError is a refusal with why: the pipeline fails that delivery.
        with contextlib.suppress(NestingTooDeepError):
            assert isinstance(json_stringify(result), str)
