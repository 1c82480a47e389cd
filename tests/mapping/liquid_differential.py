"""Differential check of `@liquid` against the reference (actions-core's liquidjs).

Generates random Liquid templates (every liquidjs filter and tag Segment leaves
enabled, with varied argument types, nesting, chains, whitespace control, and
deliberate faults: disabled tags and filters, parse errors, templates over the
1,000-character limit, memory-limit overruns) and random events, renders each
template for several events with tests/oracle/liquid_oracle.js (actions-core's
`transform` with a `{"@liquid": template}` mapping) and with our mapping-kit,
and compares: the exact output string when the reference renders, an error
(our MappingEvaluationError) when it fails. "now" is frozen at the same instant
on both sides (the oracle replaces Date.now; we replace liquid_dates.now_ms),
so dates from "now" compare exactly too; both render dates in UTC.

CI runs a fixed seed (tests/mapping/test_liquid_differential.py). A larger run
with a random seed, by hand:

    .venv/bin/python -m tests.mapping.liquid_differential --cases 200000

(prints the seed, the numbers of templates, events and cases, and any
disagreement; `--seed N` replays a run).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kameleoon_relay.js.objects import as_js_value
from kameleoon_relay.mapping import MappingEvaluationError, compile_mapping
from kameleoon_relay.mapping.liquid import dates as liquid_dates
from tests.helpers.oracle import run_oracle

NOW_MS = 1_718_000_000_123  # 2024-06-10T06:13:20.123Z, "now" on both sides

ENABLED_FILTERS = [
    "escape", "xml_escape", "escape_once", "strip_html", "abs", "at_least", "at_most", "ceil",
    "divided_by", "floor", "minus", "plus", "modulo", "times", "round", "url_decode",
    "url_encode", "cgi_escape", "uri_escape", "slugify", "join", "last", "first", "size", "sum",
    "compact", "push", "unshift", "pop", "shift", "slice", "where", "sample", "date",
    "date_to_xmlschema", "date_to_rfc822", "date_to_string", "date_to_long_string", "append",
    "prepend", "lstrip", "downcase", "upcase", "remove", "remove_first", "remove_last", "rstrip",
    "split", "strip", "strip_newlines", "squish", "capitalize", "replace", "replace_first",
    "replace_last", "truncate", "truncatewords", "normalize_whitespace", "number_of_words",
    "base64_encode", "base64_decode", "sha256", "hmac_sha256", "default", "raw", "jsonify",
    "to_integer", "json", "inspect",
]  # fmt: skip
DISABLED_FILTERS = [
    "array_to_sentence_string", "concat", "find", "find_exp", "find_index", "find_index_exp",
    "group_by", "group_by_exp", "has", "has_exp", "map", "newline_to_br", "reject", "reject_exp",
    "reverse", "sort", "sort_natural", "uniq", "where_exp", "type",
]  # fmt: skip
ENABLED_TAGS = [
    "assign", "capture", "comment", "decrement", "increment", "cycle", "if", "block", "raw",
    "unless", "break", "continue", "echo", "liquid", "#",
]  # fmt: skip
DISABLED_TAGS = ["case", "for", "include", "layout", "render", "tablerow"]

STRINGS = [
    "", " ", "Hello World", "hello", "ÜNÏcödé ß", "a,b,,c,", "  padded \t\n", "<b>x</b> & 'q'",
    "&lt;p&gt; &amp;amp;", "a b  c\nd\r\ne", "😀 smile", "İstanbul \u017f K",
    "2024-01-02T03:04:05Z", "12", "0", "-3.5", " 42 ", "1e3", "0x1F", "true", "null", "abc",
    "a%20b+c%2Fd", "%E0%A4%A",
    "aGVsbG8gd29ybGQ=", "aGk", "not base64!", "日本語 テキスト", "one two three four",
    "x.y", "a-b_c.d!", "<script>x</script>ok<!-- c -->", "tab\tsep", "Straße",
]  # fmt: skip
DATE_STRINGS = [
    "2024-01-02", "2024-01-02T03:04:05Z", "2024-02-29T23:59:59.999+02:00", "2024-01-02 03:04:05",
    "Jan 2, 2024", "2 January 2024 10:00 GMT+0200", "Tue, 02 Jan 2024 15:04:05 GMT", "1/2/24",
    "01/02/2024 10:00 PM", "2024/01/02", "12", "hello 2024", "not a date", "2024-13-01", "",
    "2024-02-30", "1704164645", "0", "-000005-01-02T00:00:00Z", "Dec 31 1999 23:59:59 EST",
    "2024-06-15T12:00:00.5", "now", "today", "3:04 PM Jan 2 2024", "2024-01-02T24:00:00Z",
]  # fmt: skip
NUMBERS = [0, 1, -1, 2, 3, 7, 10, 100, 50, 2.5, -3.7, 0.1, 1.005, 1e21, 123456789, -0.0, 1e-7]
FORMATS = [
    "%Y-%m-%d", "%H:%M:%S", "%a %A %b %B %h", "%c", "%x %X", "%d/%m/%y %I:%M %p %P", "%e %k %l",
    "%j %U %W %u %w", "%s %L %N %3N", "%z %:z %Z", "%-d %_m %05Y %^a %#B %10A", "%C %q %%",
    "%t%n", "%Q %E %O", "%", "%-", "plain", "%Y%m%dT%H%M%S", "%-l:%M %P",
]  # fmt: skip
ZONES = ["UTC", "America/New_York", "Asia/Tokyo", "europe/paris", "Invalid/Zone", "+08:00"]
PATHS = [
    "properties.name", "properties.price", "properties.qty", "properties.tags", "properties.items",
    "properties.flag", "properties.nil", "properties.obj", "properties.obj.inner",
    "properties.created", "properties.html", "properties.text", "properties.missing",
    "properties.tags[0]", "properties.tags[-1]", "properties.tags.size", "properties.tags.first",
    "properties.tags.last", "properties.name.size", "properties.name.length",
    "properties['name']", 'properties["price"]', "properties.items[0].price",
    "properties.items.size", "properties.obj.size", "properties.empty", "properties.zero",
    "properties", "traits.email", "traits.age", "traits", "context.page.url", "event", "type",
    "userId", "anonymousId", "missing", "missing.deeper", "size", "first", "properties[key]",
    "properties.items.first.sku", "properties.name[0]", "properties.tags[1.0]",
    "properties.created | date: '%Y-%m-%dT%H:%M:%S.%L %a'",
]  # fmt: skip
NAMES = ["x", "y", "total", "name", "c", "counter", "properties"]


class Gen:
    """Random templates and events; mostly valid Liquid, with deliberate faults."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, items: list[Any]) -> Any:
        return self.r.choice(items)

    # Events

    def scalar(self) -> Any:
        roll = self.r.randrange(7)
        if roll == 0:
            return None
        if roll == 1:
            return self.chance(0.5)
        if roll == 2:
            return self.pick(NUMBERS)
        if roll == 3:
            return self.pick(DATE_STRINGS)
        return self.pick(STRINGS)

    def event(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for key in ("name", "price", "qty", "html", "text", "created", "flag", "nil"):
            if self.chance(0.75):
                props[key] = self.scalar()
        if self.chance(0.5):
            props["price"] = self.pick([100, "100", 49.99, "abc", "", " 42 ", None, 7])
        if self.chance(0.6):
            props["tags"] = [self.scalar() for _ in range(self.r.randrange(5))]
        if self.chance(0.5):
            props["items"] = [
                {"sku": self.pick(["a", "b", "c"]), "price": self.pick([*NUMBERS, "3", None])}
                for _ in range(self.r.randrange(4))
            ]
        if self.chance(0.4):
            props["obj"] = {"inner": self.scalar(), "size": self.pick([3, "big"]), "k": [1, 2]}
        if self.chance(0.2):
            props["empty"] = self.pick(["", [], {}])
        if self.chance(0.2):
            props["zero"] = 0
        if self.chance(0.2):
            props["key"] = self.pick(["name", "price", 0])
        if self.chance(0.3):
            props["created"] = self.pick([*DATE_STRINGS, 1704164645, 1.5e9, -86400, 1e20])
        if self.chance(0.3):
            props["created"] = self.date_string()
        event: dict[str, Any] = {"type": self.pick(["track", "identify", "page"])}
        if self.chance(0.9):
            event["properties"] = props
        if self.chance(0.6):
            event["traits"] = {"email": self.pick(["A@B.io", "", None]), "age": self.scalar()}
        if self.chance(0.6):
            event["context"] = {"page": {"url": self.pick(["https://x.io/a?b=1&c=d e", None])}}
        if self.chance(0.7):
            event["event"] = self.pick(["Order Completed", "", "Signed Up"])
        if self.chance(0.5):
            event["userId"] = self.pick(["user-1", None, 42])
        if self.chance(0.05):
            event[self.pick(NAMES)] = self.scalar()
        return event

    def date_string(self) -> str:
        """Date-like text from the pieces V8's Date parser reads (numbers, words, signs)."""
        pieces = [
            lambda: str(self.r.randrange(0, 32)),
            lambda: f"{self.r.randrange(0, 100):02d}",
            lambda: str(self.r.randrange(1900, 2100)),
            lambda: f"{self.r.randrange(0, 10 ** self.r.randrange(1, 8))}",
            lambda: self.pick(["Jan", "february", "MAR", "Sept", "dec", "Tue", "Mon,", "x"]),
            lambda: self.pick(["am", "PM", "GMT", "UTC", "Z", "EST", "pdt", "T", "t", "ut"]),
            lambda: self.pick(["-", "+", ":", ".", "/", ",", " ", " ", "(c)", ")", "  "]),
            lambda: f"{self.r.randrange(24):02d}:{self.r.randrange(60):02d}",
            lambda: (
                f"{self.r.randrange(1970, 2030)}-{self.r.randrange(1, 13):02d}-"
                f"{self.r.randrange(1, 32):02d}"
            ),
        ]
        return "".join(self.pick(pieces)() for _ in range(self.r.randrange(1, 8)))

    # Expressions

    def quoted(self) -> str:
        text = self.pick(STRINGS + DATE_STRINGS)
        if self.chance(0.08):
            text = self.pick(["a\\nb", "\\u00e9t\\u00E9", "\\t|\\x", "q\\'s", "\\101\\60"])
            return f"'{text}'"
        quote = '"' if "'" in text or self.chance(0.5) else "'"
        if quote in text:
            text = text.replace(quote, "")
        return f"{quote}{text}{quote}"

    def number(self) -> str:
        return self.pick(["0", "1", "-1", "2", "3", "10", "10.0", "2.5", "-3.7", "0.5", "100"])

    def literal(self) -> str:
        roll = self.r.random()
        if roll < 0.4:
            return self.quoted()
        if roll < 0.75:
            return self.number()
        return self.pick(["true", "false", "nil", "null", "empty", "blank"])

    def value(self, names: list[str]) -> str:
        roll = self.r.random()
        if roll < 0.45:
            return self.pick(PATHS)
        if roll < 0.85:
            return self.literal()
        if roll < 0.93 and names:
            return self.pick(names)
        return self.pick(["(1..3)", "(0..properties.qty)", "(2..1)", "('1'..'4')", "(a..b)"])

    def args_for(self, name: str, names: list[str]) -> list[str]:
        v = lambda: self.value(names)  # noqa: E731
        specific: dict[str, Any] = {
            "date": lambda: (
                [self.q(self.pick(FORMATS))]
                + (
                    [self.q(self.pick(ZONES)) if self.chance(0.6) else self.number()]
                    if self.chance(0.3)
                    else []
                )
            ),
            "date_to_string": lambda: self.pick([[], ["'ordinal'"], ["'ordinal'", "'US'"], [v()]]),
            "date_to_long_string": lambda: self.pick([[], ["'ordinal'", "'US'"], ["'ordinal'"]]),
            "slugify": lambda: self.pick(
                [[], ["'pretty'"], ["'ascii'", "true"], ["'latin'"], ["'raw'"], ["'none'"], [v()]]
            ),
            "number_of_words": lambda: self.pick([[], ["'cjk'"], ["'auto'"]]),
            "default": lambda: [v()] + (["allow_false: true"] if self.chance(0.3) else []),
            "where": lambda: self.pick([["'sku'", "'a'"], ["'price'"], ["'sku'"], [v(), v()]]),
            "sample": lambda: self.pick([["0"], ["2"], ["5"]]),
            "round": lambda: self.pick([[], ["1"], ["2"], ["-1"], [v()]]),
            "json": lambda: self.pick([[], ["2"], ["0.5"], ["'--'"], ["''"], [v()]]),
            "sum": lambda: self.pick([[], ["'price'"], [v()]]),
            "divided_by": lambda: self.pick([[v()], [self.number()], ["0"], ["3", "true"]]),
            "truncate": lambda: self.pick([[], [self.number()], [v(), v()], ["5", "''"]]),
            "truncatewords": lambda: self.pick([[], ["2"], [v(), "'~'"]]),
        }
        if name in specific:
            return specific[name]()
        count = self.pick([0, 1, 1, 1, 2, 2, 3])
        return [v() for _ in range(count)]

    def q(self, text: str) -> str:
        return f'"{text}"'

    def filters(self, names: list[str], count: int) -> str:
        out = []
        for _ in range(count):
            roll = self.r.random()
            if roll < 0.96:
                name = self.pick(ENABLED_FILTERS)
            elif roll < 0.98:
                name = self.pick(DISABLED_FILTERS)
            else:
                name = self.pick(["nosuch", "upcase2", "to_s"])
            if name == "sample":
                out.append(f" | sample: {self.pick(['0', '2', '5'])} | size")
                continue
            args = self.args_for(name, names)
            sep = self.pick([" ", "", "  "])
            out.append(f"{sep}|{sep}{name}" + (f": {', '.join(args)}" if args else ""))
        return "".join(out)

    def filtered(self, names: list[str]) -> str:
        return self.value(names) + self.filters(names, self.pick([0, 1, 1, 2, 2, 3]))

    def condition(self, names: list[str]) -> str:
        def atom() -> str:
            roll = self.r.random()
            if roll < 0.35:
                return self.value(names)
            if roll < 0.9:
                op = self.pick(["==", "!=", ">", "<", ">=", "<=", "contains"])
                return f"{self.value(names)} {op} {self.value(names)}"
            return f"not {self.value(names)}"

        parts = [atom()]
        for _ in range(self.pick([0, 0, 1, 2])):
            parts.append(self.pick(["and", "or"]))
            parts.append(atom())
        return " ".join(parts)

    # Templates

    def tag(self, name: str, body: str = "") -> str:
        left = self.pick(["{%", "{%", "{%-"])
        right = self.pick(["%}", "%}", "-%}"])
        return f"{left} {name} {right}" if body == "" else f"{left} {name} {body} {right}"

    def output(self, names: list[str]) -> str:
        left = self.pick(["{{", "{{", "{{-"])
        right = self.pick(["}}", "}}", "-}}"])
        return f"{left} {self.filtered(names)} {right}"

    def text(self) -> str:
        return self.pick(["", " ", "x", "\n", " - ", "A:", "  \n  ", "<p>", ","])

    def block(self, names: list[str], depth: int) -> str:
        parts = []
        for _ in range(self.r.randrange(1, 3 if depth else 4)):
            parts.append(self.text())
            parts.append(self.element(names, depth))
        parts.append(self.text())
        return "".join(parts)

    def element(self, names: list[str], depth: int) -> str:
        roll = self.r.random()
        if depth > 1 or roll < 0.35:
            return self.output(names)
        if roll < 0.5:
            name = self.pick(NAMES)
            names.append(name)
            return self.tag("assign", f"{name} = {self.filtered(names)}")
        if roll < 0.62:
            branches = [self.tag("if", self.condition(names)) + self.block(names, depth + 1)]
            for _ in range(self.pick([0, 0, 1])):
                branches.append(self.tag("elsif", self.condition(names)) + self.block(names, 3))
            if self.chance(0.5):
                branches.append(self.tag("else") + self.block(names, depth + 1))
            return "".join(branches) + self.tag("endif")
        if roll < 0.67:
            body = self.tag("unless", self.condition(names)) + self.block(names, depth + 1)
            if self.chance(0.4):
                body += self.tag("else") + self.block(names, 3)
            return body + self.tag("endunless")
        if roll < 0.72:
            name = self.pick(NAMES)
            names.append(name)
            inner = self.block(names, depth + 1)
            return self.tag("capture", name) + inner + self.tag("endcapture")
        if roll < 0.76:
            return self.tag("echo", self.filtered(names))
        if roll < 0.80:
            return self.tag(self.pick(["increment", "decrement"]), self.pick(NAMES))
        if roll < 0.84:
            group = f"{self.quoted()}: " if self.chance(0.3) else ""
            items = ", ".join(self.value(names) for _ in range(self.r.randrange(1, 4)))
            return self.tag("cycle", group + items) * self.r.randrange(1, 4)
        if roll < 0.87:
            lines = [f"assign {self.pick(NAMES)} = {self.filtered(names)}"]
            lines.append(f"echo {self.filtered(names)}")
            if self.chance(0.5):
                lines += [f"if {self.condition(names)}", f"  echo {self.value(names)}", "endif"]
            if self.chance(0.2):
                lines.append("# a comment")
            return "{% liquid\n  " + "\n  ".join(lines) + "\n%}"
        if roll < 0.89:
            raw = "{% raw %}" if self.chance(0.8) else self.tag("raw")
            endraw = "{% endraw %}" if self.chance(0.8) else self.tag("endraw")
            return raw + "{{ not rendered }} {% if %}" + endraw
        if roll < 0.91:
            return self.tag("comment") + self.block(names, 3) + self.tag("endcomment")
        if roll < 0.93:
            return self.pick(["{% # note %}", "{%# note %}", "{% # a\n # b %}", "{% # a\n b %}"])
        if roll < 0.95:
            return self.tag("block", "b") + self.block(names, depth + 1) + self.tag("endblock")
        if roll < 0.96:
            return self.tag(self.pick(["break", "continue"]))
        if roll < 0.975:
            return self.tag(self.pick(DISABLED_TAGS), "x")
        return self.pick(
            [
                "{{ }}", "{{", "{% if x %}", "{% endif %}", "{% nosuch %}", "{{ a | }}",
                "{{ a | | b }}", "{{ a = b }}", "{% assign = 1 %}", "{{ 'unclosed }}",
                "{% else %}", "{{ (1..) }}", "{{ a[ }}",
                "{% if a %}{% else %}{% else %}{% endif %}",
                "{{ a b c }}", "{{ a, b }}", "{{-1}}", "{{ x | append }}", "{{ x | append: 1, 2 }}",
                "{{ (1..200000000) | size }}", "{{ 'x' | date: '%100000000Y' }}",
            ]
        )  # fmt: skip

    def template(self) -> str:
        names: list[str] = []
        text = self.block(names, 0)
        roll = self.r.random()
        if roll < 0.02:
            text = text + " " * (1001 - len(text)) if len(text) <= 1000 else text
        elif roll < 0.05 and text:
            text = text[: self.r.randrange(len(text))]  # truncated: usually a parse error
        return text


def _ours(template: str, event: Any, cache: dict[str, Any]) -> dict[str, Any]:
    resolver = cache.get(template)
    if resolver is None:
        resolver = cache[template] = compile_mapping({"out": {"@liquid": template}})
    try:
        return {"output": resolver(as_js_value(event))["out"]}
    except MappingEvaluationError as error:
        return {"error": str(error)}


@contextmanager
def frozen_now(ms: float) -> Iterator[None]:
    saved = liquid_dates.now_ms
    liquid_dates.now_ms = lambda: float(ms)
    try:
        yield
    finally:
        liquid_dates.now_ms = saved


def make_cases(seed: int, templates: int, events_per_template: int) -> list[dict[str, Any]]:
    gen = Gen(seed)
    events = [gen.event() for _ in range(max(8, templates // 4))]
    cases = []
    for _ in range(templates):
        template = gen.template()
        for event in gen.r.sample(events, events_per_template):
            cases.append({"template": template, "event": event, "now": NOW_MS})
    # A JSON round trip makes both sides start from identical values.
    return json.loads(json.dumps(cases))


def disagreements(
    cases: list[dict[str, Any]], refs: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """The cases where our outcome differs from the reference's."""
    cache: dict[str, Any] = {}
    bad = []
    with frozen_now(NOW_MS):
        for case, ref in zip(cases, refs, strict=True):
            ours = _ours(case["template"], case["event"], cache)
            if "error" in ref:
                agree = "error" in ours
            else:
                agree = "output" in ours and ours["output"] == ref["output"]
            if not agree:
                bad.append((case, ref, ours))
    return bad


def run(seed: int, cases_wanted: int, events_per_template: int = 3) -> int:
    templates = max(1, cases_wanted // events_per_template)
    started = time.monotonic()
    total = bad_count = 0
    chunk = 6000  # templates per oracle process
    template_count = 0
    event_count = 0
    for start in range(0, templates, chunk):
        count = min(chunk, templates - start)
        cases = make_cases(seed + start, count, events_per_template)
        refs = run_oracle("liquid_oracle.js", cases)
        bad = disagreements(cases, refs)
        total += len(cases)
        template_count += count
        event_count += len({json.dumps(c["event"], sort_keys=True) for c in cases})
        bad_count += len(bad)
        for case, ref, ours in bad[:5]:
            print(json.dumps({"case": case, "reference": ref, "ours": ours}, ensure_ascii=False))
    elapsed = time.monotonic() - started
    print(
        f"seed {seed}: {template_count} templates x {events_per_template} events each "
        f"({event_count} distinct events), {total} cases, {bad_count} disagreements, "
        f"{elapsed:.0f} s"
    )
    return bad_count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--events-per-template", type=int, default=3)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    return 1 if run(seed, args.cases, args.events_per_template) else 0


if __name__ == "__main__":
    sys.exit(main())
