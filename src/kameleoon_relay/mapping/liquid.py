"""`@liquid`: Liquid templates, set up like the reference's liquidjs engine.

The reference disables the tags `case`, `for`, `include`, `layout`, `render`,
`tablerow` and a list of filters (below), caps templates at 1000 characters,
passes unknown filters through, and prints values the JavaScript way. We do the
same with python-liquid, and give output, string filters, `size`, `first`,
`last`, `join`, `truncate` and `divided_by` liquidjs's semantics. Known
differences: liquidjs-only filters (`json`/`jsonify` are provided; `slugify`,
`to_integer`, `push`, `where` on objects and the like are not), python-liquid's
own semantics for the remaining filters (float arithmetic, dates), and error
wording; liquidjs's 500 ms render limit has no python-liquid
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
from .jsvalues import UNDEFINED, json_stringify, to_js_string, truthy, utf16_len, utf16_units

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


_STRING_FILTERS = (
    "append",
    "prepend",
    "capitalize",
    "downcase",
    "upcase",
    "escape",
    "escape_once",
    "lstrip",
    "rstrip",
    "strip",
    "remove",
    "remove_first",
    "remove_last",
    "replace",
    "replace_first",
    "replace_last",
    "split",
    "strip_html",
    "strip_newlines",
    "url_encode",
    "url_decode",
    "base64_encode",
    "base64_decode",
)


def _on_strings(filter_: Callable[..., Any]) -> Callable[..., Any]:
    """liquidjs string filters stringify their input and arguments the JavaScript way."""

    def apply(value: Any, *args: Any, **kwargs: Any) -> Any:
        return filter_(_js_output(value), *map(_js_output, args), **kwargs)

    return apply


def _truncate(value: Any, length: Any = 50, ellipsis: Any = "...") -> Any:
    text, tail = _js_output(value), _js_output(ellipsis)
    limit = int(_number(length))
    if len(text) <= limit:
        return value
    return text[: max(limit - len(tail), 0)] + tail


def _size(value: Any) -> int:
    if isinstance(value, str):
        return utf16_len(value)
    if isinstance(value, list):
        return len(value)
    return 0


def _join(value: Any, separator: Any = None) -> str:
    items = [] if value is None or not _is_json_like(value) else value
    items = items if isinstance(items, list) else [items]
    sep = " " if separator is None else _js_output(separator)
    return sep.join("" if v is None else to_js_string(v) for v in items)


def _element(index: int) -> Callable[[Any], Any]:
    """liquidjs `first`/`last`: an element of anything with a length (strings too)."""

    def pick(value: Any) -> Any:
        items = utf16_units(value) if isinstance(value, str) else value
        if not isinstance(items, list) or not truthy(value):
            return ""
        return items[index] if items else None

    return pick


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
    for name in _STRING_FILTERS:
        env.add_filter(name, _on_strings(env.filters[name]))
    env.add_filter("truncate", _truncate)
    env.add_filter("size", _size)
    env.add_filter("first", _element(0))
    env.add_filter("last", _element(-1))
    env.add_filter("join", _join)
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
