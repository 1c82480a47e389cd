"""Unit tests for the FQL engine: documented behaviour, reference quirks, errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

from kameleoon_relay.fql import FQLEvaluationError, FQLSyntaxError, compile_trigger
from kameleoon_relay.fql.lexer import tokenize
from kameleoon_relay.fql.parser import Condition, Group, parse
from kameleoon_relay.js.numbers import number_to_string
from kameleoon_relay.js.operators import to_number
from tests.helpers.oracle import run_oracle

TRACK = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u1",
    "properties": {"total": 5, "code": "5", "s": "abc", "zero": 0, "flag": False, "arr": ["x"]},
    "traits": {"plan": "pro"},
    "context": {"library": {"name": "analytics.js"}},
}
PAGE = {"type": "page", "name": "Home", "properties": {"path": "/"}}

# (trigger, event, expected): each row is also checked against the reference below.
CASES: list[tuple[str, dict[str, Any], bool]] = [
    ('type = "track"', TRACK, True),
    ('type = "track"', PAGE, False),
    ('type = "track" and event = "Order Completed"', TRACK, True),
    ('type="track"', TRACK, True),
    ('type = "page" or type = "track"', TRACK, True),
    ('name = "Home"', PAGE, True),
    ("name != null", PAGE, True),
    ("name = null", TRACK, True),
    ("event != null", PAGE, True),  # quirk: event/type compare with the string "null"
    ("userId != null", PAGE, False),
    ('context.library.name = "analytics.js"', TRACK, True),
    ('traits.plan = "pro"', TRACK, True),
    # Numbers: `= 5` needs a number, `= "5"` needs a string.
    ("properties.total = 5", TRACK, True),
    ('properties.total = "5"', TRACK, False),
    ("properties.code = 5", TRACK, False),
    ("properties.total > 4.5 and properties.total <= 5", TRACK, True),
    ('properties.total < "6"', TRACK, True),  # the bound is read with Number()
    ("properties.total != -1", TRACK, True),
    ("properties.missing != 1", TRACK, False),  # numeric != needs a number
    ('properties.missing != "1"', TRACK, True),  # string != is true on a missing field
    ("properties.flag = false", TRACK, True),
    ("properties.flag != null", TRACK, True),
    # contains / match
    ('contains(properties.s, "b")', TRACK, True),
    ('!contains(properties.s, "b")', TRACK, False),
    ('contains(properties.total, "5")', TRACK, False),  # strings only
    ('match(properties.s, "ab*")', TRACK, True),
    ('match(properties.s, "*bc")', TRACK, True),
    ('match(properties.s, "xbc")', TRACK, True),  # no star: ends with all but the 1st char
    ('!match(event, "Order*")', TRACK, False),
    ('properties.s contains "b"', TRACK, True),  # any word can stand as the operator
    # Path reads are JavaScript property reads.
    ("properties.zero.deeper = 0", TRACK, True),  # a falsy value ends the walk
    ("properties.s.length = 3", TRACK, True),
    ('properties.arr.0 = "x"', TRACK, False),  # `.0` lexes as a dot and a number
    ('properties.arr.\\0 = "x"', TRACK, True),
    ('properties.constructor.name = "Object"', PAGE, True),
    ('properties.arr\\[0\\] = "x"', TRACK, True),
    # No precedence, case-sensitive keywords, flat groups.
    ('type = "page" and type = "x" or type = "track"', TRACK, True),
    ('type = "track" AND type = "page"', TRACK, False),
    ('type = "track" OR type = "page"', PAGE, False),
    ('(type = "page" or type = "track") and event = "Order Completed"', TRACK, True),
    ('!(type = "track")', TRACK, True),  # "!" negates only contains/match
    ("type = 'track'", TRACK, False),  # single quotes stay part of the value
    ("type =", {"type": "eos"}, True),  # the end token is the value
    ('type = "track" "ignored" 42', TRACK, True),
    ('type = "tr"ack"', TRACK, False),  # `"tr"` then the string `"ack"`: value is tr
    ('type = "tr"ack"', {"type": "tr"}, True),
    ("userId = 123", {"userId": "123"}, True),
    ("userId = 123", {"userId": 123}, False),
]


@pytest.mark.parametrize(("trigger", "event", "expected"), CASES)
def test_trigger_answers(trigger: str, event: dict[str, Any], expected: bool) -> None:
    assert compile_trigger(trigger)(event) is expected


def test_case_table_is_the_reference_answer() -> None:
    results = run_oracle("fql_oracle.js", [{"trigger": t, "event": e} for t, e, _ in CASES])
    assert [r["match"] for r in results] == [expected for _, _, expected in CASES]


@pytest.mark.parametrize(
    ("trigger", "position", "fragment"),
    [
        ("", 0, "empty trigger"),
        ('type = "track" and event = "x', 27, "unterminated string"),
        ('type!="track"', 4, "expected '='"),
        ('type = "track" & event = "x"', 15, "invalid character '&'"),
        ('type = "a" and event"x"', 20, "after identifier"),
        ('type = "track" and (event = "x"', 19, "unclosed '('"),
        ('((type = "a"))', 1, "unclosed '('"),
        ("type", 4, "unexpected end"),
        ("contains(event", 14, "missing a 2nd argument"),
        ("foo = 1", 0, "unexpected token 'foo'"),
        ("()", 0, "unexpected token '('"),
        ("properties.total = 1.2.3", 22, "multiple decimal points"),
        ("type = \\", 8, "after '\\'"),
        ('type = "a" \r', 11, "invalid character"),
        ('type = "a"\r', 9, "unterminated string"),  # the quote before \r opens a string
    ],
)
def test_syntax_errors_name_their_position(trigger: str, position: int, fragment: str) -> None:
    with pytest.raises(FQLSyntaxError) as caught:
        compile_trigger(trigger)
    assert caught.value.position == position
    assert f"at position {position}" in str(caught.value)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_syntax_errors_agree_with_the_reference() -> None:
    triggers = ["", "type", "a!=b", '((type = "a"))', "()", "foo = 1", 'type = "a', "type ~ 1"]
    results = run_oracle("fql_oracle.js", [{"trigger": t, "event": TRACK} for t in triggers])
    assert [r["parsed"] for r in results] == [False] * len(triggers)
    for trigger in triggers:
        with pytest.raises(FQLSyntaxError):
            compile_trigger(trigger)


def test_lookahead_at_the_end_drops_characters() -> None:
    # The reference reads "n" looking for "and", meets the end and keeps only "a".
    assert [t.value for t in tokenize("type = an")] == ["type", "=", "a", "eos"]
    assert compile_trigger("type = an")({"type": "a"}) is True


def test_empty_group_throws_only_when_reached() -> None:
    predicate = compile_trigger('type = "track" and ()')
    assert predicate(PAGE) is False  # `and` stops before the empty group
    with pytest.raises(FQLEvaluationError):
        predicate(TRACK)


def test_path_of_only_separators_throws_when_evaluated() -> None:
    predicate = compile_trigger("properties\\.\\. = 1")
    with pytest.raises(FQLEvaluationError):
        predicate(TRACK)


def test_parse_shapes_conditions() -> None:
    tree = parse('type = "track" or properties.total >= 2')
    assert tree == Group(
        "or",
        (
            Condition("type", None, "=", "track"),
            Condition("properties", "total", ">=", 2.0),
        ),
    )
    assert parse("properties.a = null").children == (
        Condition("properties", "a", "not_exists", None),
    )


def test_predicate_is_reusable_and_returns_bools() -> None:
    predicate = compile_trigger('event = "Order Completed" and properties.total > 1')
    answers = [predicate(TRACK), predicate(PAGE), predicate({}), predicate(TRACK)]
    assert answers == [True, False, False, True]
    assert all(type(answer) is bool for answer in answers)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (5.0, "5"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (123456789.125, "123456789.125"),
        (math.nan, "NaN"),
        (-math.inf, "-Infinity"),
    ],
)
def test_number_to_string_follows_javascript(number: float, text: str) -> None:
    assert number_to_string(number) == text


@pytest.mark.parametrize(
    ("text", "number"),
    [(" 7 ", 7.0), ("", 0.0), ("0x1f", 31.0), ("1_000", math.nan), ("-", math.nan), (".5", 0.5),
     ("5.", 5.0), ("1e3", 1000.0), ("-Infinity", -math.inf), ("inf", math.nan), (True, 1.0)],
)  # fmt: skip
def test_to_number_follows_javascript(text: Any, number: float) -> None:
    result = to_number(text)
    assert result == number or (math.isnan(number) and math.isnan(result))
