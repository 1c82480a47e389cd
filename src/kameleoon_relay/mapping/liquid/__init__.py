"""`@liquid`: Liquid templates rendered exactly as Segment's actions-core renders them.

The reference evaluates `@liquid` with liquidjs configured by actions-core: a
render limit of 500 ms, a memory limit of 1e8, templates of at most 1,000
characters (UTF-16 units), the tags `case`, `for`, `include`, `layout`,
`render`, `tablerow` and twenty filters (DISABLED_FILTERS) disabled, unknown
filters passed through. Every other liquidjs tag and filter is available, with
liquidjs's semantics: the engine in engine.py parses like liquidjs's
tokenizer, values coerce as JavaScript does (values.py), filters keep
liquidjs's argument handling and memory accounting (filters.py), and
dates follow V8's Date parsing and liquidjs's strftime (dates.py).

Any failure (a parse error, a disabled tag or filter, a filter that throws, a
limit) is a per-event MappingEvaluationError, as in the reference, where the
template is parsed and rendered for each event. Here it compiles once per
mapping; a template that does not parse fails every event.

Documented differences (deliberate or unavoidable):
- Dates render in UTC (liquidjs uses the server's zone; Segment's servers run
  in UTC), and `%c`/`%x`/`%X`/names use the en-US locale.
- `increment`/`decrement` write their counters into the event in liquidjs, so
  a later field of the same mapping would see them; here counters live only
  for the template's render and the event is never modified.
- The 500 ms render limit is a wall-clock limit on both sides, so only
  templates near it can differ; ranges over 10,000,000 items fail here
  (JavaScript spends seconds on them).
- `sample` is random on both sides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kameleoon_relay.js.strings import utf16_length
from kameleoon_relay.mapping.errors import MappingEvaluationError
from kameleoon_relay.mapping.liquid.engine import compile_template
from kameleoon_relay.mapping.liquid.errors import LiquidRenderError, LiquidSyntaxError
from kameleoon_relay.mapping.liquid.filters import DISABLED_FILTERS

MAX_TEMPLATE_LENGTH = 1000
RENDER_LIMIT_SECONDS = 0.5
MEMORY_LIMIT = 1e8
DISABLED_TAGS = ("case", "for", "include", "layout", "render", "tablerow")

__all__ = ["DISABLED_FILTERS", "DISABLED_TAGS", "MAX_TEMPLATE_LENGTH", "compile_liquid"]


def compile_liquid(source: Any) -> Callable[[Any], Any]:
    """A resolver rendering `source` with the event as its scope."""
    if not isinstance(source, str):
        return _fail("liquid template value must be a string")
    if source == "":
        return lambda payload: ""
    if utf16_length(source) > MAX_TEMPLATE_LENGTH:
        return _fail("liquid template values are limited to 1000 characters")
    try:
        template = compile_template(source, DISABLED_TAGS, RENDER_LIMIT_SECONDS, MEMORY_LIMIT)
    except LiquidSyntaxError as error:
        return _fail(f"liquid: {error}")

    def render(payload: Any) -> str:
        scope = payload if isinstance(payload, dict) else {}
        try:
            return template.render(scope)
        except LiquidRenderError as error:
            raise MappingEvaluationError(f"liquid: {error}") from error
        except Exception as error:  # a JavaScript TypeError in the reference: still per event
            raise MappingEvaluationError(f"liquid: {type(error).__name__}: {error}") from error

    return render


def _fail(message: str) -> Callable[[Any], Any]:
    def fail(payload: Any) -> Any:
        raise MappingEvaluationError(message)

    return fail
