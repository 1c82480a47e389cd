"""@liquid against cases checked by hand with the reference (actions-core 3.170, liquidjs 10.30).

Each expected output below is what the reference's `transform` renders for the
same template and event (tests/oracle/liquid_oracle.js); the differential suite
covers the same ground at random.
"""

from __future__ import annotations

from typing import Any

import pytest

from kameleoon_relay.mapping import MappingEvaluationError, compile_mapping, liquid
from kameleoon_relay.mapping.liquid import dates as liquid_dates

EVENT: dict[str, Any] = {
    "type": "track",
    "event": "Order",
    "properties": {
        "price": "100",
        "qty": 0,
        "name": "",
        "nil": None,
        "tags": ["a", "b"],
        "created": "2024-01-02T03:04:05Z",
    },
    "context": {"page": {"url": "https://x.io/a?b=1 c"}},
}
NOW_MS = 1_718_000_000_123  # 2024-06-10T06:13:20.123Z


def render(template: str, event: dict[str, Any] | None = None) -> Any:
    return compile_mapping({"out": {"@liquid": template}})(EVENT if event is None else event)["out"]


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liquid_dates, "now_ms", lambda: float(NOW_MS))


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # The examples.
        ("{{ context.page.url | url_encode }}", "https%3A%2F%2Fx.io%2Fa%3Fb%3D1+c"),
        ('{{ "<b>x</b>" | escape }}', "&lt;b&gt;x&lt;/b&gt;"),
        ("{{ traits | json }}", ""),
        ("{{ properties.nil | json }}", "null"),
        ("{% if properties.price > 50 %}big{% else %}small{% endif %}", "big"),
        ("{% if properties.price < 50 %}y{% endif %}", ""),
        # Numbers.
        ("{{ 10 | divided_by: 3 }}", "3.3333333333333335"),
        ("{{ 10.0 | divided_by: 4 }}", "2.5"),
        ("{{ 1 | divided_by: 0 }}", "Infinity"),
        ("{{ -1 | divided_by: 0 }}", "-Infinity"),
        ("{{ 0 | divided_by: 0 }}", "NaN"),
        ("{{ 10 | divided_by: 3, true }}", "3"),
        (
            "{{ '1' | plus: 2 }}|{{ 'abc' | plus: 1 }}|{{ 3 | minus: 5 }}|{{ 2.5 | times: 2 }}"
            "|{{ 7 | modulo: -3 }}|{{ 1.005 | round: 2 }}|{{ -2.5 | round }}",
            "3|1|-2|5|-2|1.01|-3",
        ),
        # Dates: UTC, strftime, "now", a named zone.
        (
            '{{ properties.created | date: "%Y-%m-%d %H:%M:%S %a %b %j" }}',
            "2024-01-02 03:04:05 Tue Jan 002",
        ),
        ('{{ "now" | date: "%Y-%m-%dT%H:%M:%S.%L" }}', "2024-06-10T06:13:20.123"),
        ('{{ properties.created | date: "%c", "Asia/Tokyo" }}', "1/2/2024, 12:04:05 PM"),
        # Whitespace control.
        ("a  {%- if true -%}  b  {%- endif -%}  c", "abc"),
        ("a {{- 'b' -}} c", "abc"),
        # Tags.
        (
            "{% assign x = properties.tags | join: '-' %}{% capture y %}[{{ x }}]{% endcapture %}"
            "{{ y }}",
            "[a-b]",
        ),
        ("{% if false %}1{% elsif properties.qty %}2{% else %}3{% endif %}", "2"),
        ("{% unless properties.nil %}u{% endunless %}", "u"),
        ("{% increment c %}{% increment c %}{% decrement c %}{{ c }}", "0111"),
        ("{% cycle 'a', 'b' %}{% cycle 'a', 'b' %}{% cycle 'a', 'b' %}", "aba"),
        ("{% raw %}{{ x }}{% endraw %}", "{{ x }}"),
        ("{% comment %}{{ x }}{% endcomment %}c", "c"),
        ("{% # note %}n", "n"),
        ("{% liquid\nassign a = 'q'\necho a | upcase\n%}", "Q"),
        ("a{% break %}b", "a"),
        ("{% block b %}{{ block.super }}in{% endblock %}", "in"),
        # Truthiness, undefined, null and empty.
        (
            "{% if properties.qty %}0 is truthy{% endif %}"
            "{% if properties.name %}, '' too{% endif %}",
            "0 is truthy, '' too",
        ),
        (
            "{{ properties.missing }}|{{ properties.nil }}|{{ properties.missing == nil }}"
            "|{{ properties.nil == empty }}|{{ properties.name == empty }}"
            "|{{ properties.name == blank }}",
            "||true|false|true|true",
        ),
        # Filter chains, unknown filters, disabled filters that never run.
        (
            "{{ properties.tags | first | upcase | append: '!' | prepend: properties.tags.size }}",
            "2A!",
        ),
        ("{{ 'x' | nosuch }}", "x"),
        ("{% if false %}{{ x | sort }}{% endif %}ok", "ok"),
        (
            "{{ 'Hello World' | truncate: 7 }}|{{ 'a b c d' | truncatewords: 2 }}"
            "|{{ 'Hello' | slice: 1, 3 }}|{{ '  x  ' | strip }}|{{ 'a,b' | split: ',' | last }}",
            "Hell...|a b...|ell|x|b",
        ),
        # V8 pretty-prints JSON for any positive gap, even one under 1.
        ("{{ properties.tags | json: 0.5 }}", '[\n"a",\n"b"\n]'),
        ("{{ properties.tags | json: 2 }}", '[\n  "a",\n  "b"\n]'),
        # liquidjs's lenient parsing.
        ("{{ properties.tags[0] properties.tags[1] }}", "a"),
        ("{{ size }}", "0"),
    ],
)
def test_liquid_renders_as_the_reference(template: str, expected: str) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{% for x in properties.tags %}{{ x }}{% endfor %}",  # a disabled tag
        "{% if false %}{% tablerow x in y %}{% endtablerow %}{% endif %}",  # even unreached
        "{{ properties.tags | sort }}",  # a disabled filter that runs
        "{{ }}",  # parse errors
        "{% if %}",
        "{% if true %}x",
        "{{ 'x' | append }}",  # a filter that throws
        "{{ '2024-01-01' | date: '%Y', 'Invalid/Zone' }}",
        "{{ (1..200000000) | size }}",  # the memory limit
        "{% assign s = 'xxxxxxxxxx' %}" + "{% assign s = s | append: s %}" * 24,
        "x" * 1001,  # over 1,000 characters
        "é" * 999 + "😀",  # 1,000 characters, 1,001 UTF-16 units
    ],
)
def test_liquid_failures_are_per_event_mapping_errors(template: str) -> None:
    with pytest.raises(MappingEvaluationError):
        render(template)


def test_the_length_limit_counts_utf16_units() -> None:
    assert render("😀" * 500) == "😀" * 500
    assert render("{{ 'x' | date: '%Y', 'Invalid/Zone' }}") == "x"  # no date, no zone check


def test_the_render_limit_is_a_mapping_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(liquid, "RENDER_LIMIT_SECONDS", -1.0)
    resolver = liquid.compile_liquid("{{ 'x' }}")
    with pytest.raises(MappingEvaluationError, match="render limit"):
        resolver(EVENT)


def test_counters_do_not_modify_the_event() -> None:
    event = {"x": 5}
    assert render("{% increment x %}{{ x }}", event) == "56"
    assert event == {"x": 5}
