"""`@liquid`: Liquid templates, set up like the reference's liquidjs engine.

The reference disables the tags `case`, `for`, `include`, `layout`, `render`,
`tablerow` and a list of filters (below), caps templates at 1000 characters,
passes unknown filters through, and prints values the JavaScript way. We do the
same with python-liquid. Known differences: liquidjs-only filters (`json` is
provided; `where_exp`, `slugify`, `to_integer` and the like are not) and
python-liquid's own filter semantics for float arithmetic and string formatting
of numbers inside filters; liquidjs's 500 ms render limit has no python-liquid
counterpart (without loops, render time is bounded by the template length).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from liquid import Environment
from liquid.builtin.output import Output, OutputNode
from liquid.builtin.tags.echo_tag import EchoNode, EchoTag
from liquid.exceptions import LiquidError

from .errors import MappingEvaluationError
from .jsvalues import UNDEFINED, json_stringify, to_js_string, utf16_len

MAX_TEMPLATE_LENGTH = 1000
DISABLED_TAGS = ("case", "for", "include", "layout", "render", "tablerow")
DISABLED_FILTERS = (
    "array_to_sentence_string",
    "concat",
    "find",
    "find_exp",
    "find_index",
    "find_index_exp",
    "group_by",
    "group_by_exp",
    "has",
    "has_exp",
    "map",
    "newline_to_br",
    "reject",
    "reject_exp",
    "reverse",
    "sort",
    "sort_natural",
    "uniq",
    "where_exp",
    "type",
)


def _js_output(value: Any) -> str:
    """How liquidjs prints a value: nil as nothing, everything else as String()."""
    if value is None or value is UNDEFINED or not _is_json_like(value):
        return "" if value is None or value is UNDEFINED else str(value)
    if isinstance(value, list):
        return "".join(_js_output(v) for v in value)
    return to_js_string(value)


def _is_json_like(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | list | dict)


class _JsOutputNode(OutputNode):
    __slots__ = ()

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        return buffer.write(_js_output(self.expression.evaluate(context)))


class _JsEchoNode(EchoNode):
    __slots__ = ()

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        return buffer.write(_js_output(self.expression.evaluate(context)))


class _JsOutput(Output):
    node_class = _JsOutputNode


class _JsEcho(EchoTag):
    node_class = _JsEchoNode


def _disabled(name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise MappingEvaluationError(f'filter "{name}" is disabled')

    return refuse


def _divided_by(value: Any, other: Any) -> Any:
    # JavaScript division: never integer division.
    number, divisor = _number(value), _number(other)
    if divisor == 0:
        return float("inf") if number > 0 else float("-inf") if number < 0 else float("nan")
    return number / divisor


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _json_filter(value: Any, *args: Any) -> str:
    encoded = json_stringify(value)
    return "" if encoded is UNDEFINED else encoded


def _environment() -> Environment:
    env = Environment(strict_filters=False)
    for tag in DISABLED_TAGS:
        env.tags.pop(tag, None)
    env.add_tag(_JsOutput)
    env.add_tag(_JsEcho)
    for name in DISABLED_FILTERS:
        env.add_filter(name, _disabled(name))
    env.add_filter("divided_by", _divided_by)
    env.add_filter("json", _json_filter)
    env.add_filter("jsonify", _json_filter)
    return env


_ENV = _environment()


def compile_liquid(source: Any) -> Callable[[Any], Any]:
    """A resolver rendering `source` with the event as its scope."""
    if not isinstance(source, str):
        return _fail("liquid template value must be a string")
    if source == "":
        return lambda payload: ""
    if utf16_len(source) > MAX_TEMPLATE_LENGTH:
        return _fail("liquid template values are limited to 1000 characters")
    try:
        template = _ENV.from_string(source)
    except LiquidError as error:
        return _fail(f"liquid: {error}")

    def render(payload: Any) -> str:
        scope = payload if isinstance(payload, dict) else {}
        try:
            return template.render(**scope)
        except LiquidError as error:
            raise MappingEvaluationError(f"liquid: {error}") from error

    return render


def _fail(message: str) -> Callable[[Any], Any]:
    def fail(payload: Any) -> Any:
        raise MappingEvaluationError(message)

    return fail
