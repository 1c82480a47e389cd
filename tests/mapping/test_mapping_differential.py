"""Differential test: our mapping-kit against actions-core's validate/transform.

Thousands of seeded random (mapping, event) cases, valid and invalid, over
every directive and their nestings; validity, output and errors must agree.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from typing import Any

import pytest

from kameleoon_relay.js.objects import as_js_value
from kameleoon_relay.js.stack import deep_call
from kameleoon_relay.js.values import JSFunction, JSPrototype, nesting_depth
from kameleoon_relay.mapping import (
    UNDEFINED,
    MappingError,
    MappingEvaluationError,
    validate_mapping,
)
from kameleoon_relay.mapping.compile import compile_js_mapping as compile_mapping
from tests.helpers.generated import DEEP, NUMBER_SPELLINGS
from tests.helpers.oracle import run_oracle

# A long run: KAMELEOON_DIFF_SEED=7 KAMELEOON_DIFF_CASES=200000 pytest this file.
SEED = int(os.environ.get("KAMELEOON_DIFF_SEED", "20240611"))
CASES = int(os.environ.get("KAMELEOON_DIFF_CASES", "6000"))
CHUNK = 5000  # cases per oracle process

WORDS = ["name", "email", "price", "tags", "obj", "empty", "zero", "flag", "nil", "arr", "10", "2"]
# Names every object inherits (Object.prototype), as keys of events and steps of paths.
INHERITED = ["constructor", "toString", "valueOf", "hasOwnProperty", "__proto__"]
STRINGS = [
    "",
    " ",
    "Hello World",
    "hello",
    "ÜNÏcödé ß",
    "A-B_c.d",
    "a.b.c",
    "$& $$ $` $'",
    "12",
    "0",
    "true",
    '{"a":1,"b":[1,2]}',
    "[1,2]",
    "null",
    "not json",
    "😀 smile",
    "  padded  ",
    "İstanbul \u017f K",  # long s: JavaScript does not fold it to "s"
    "{{name}}",
]
NUMBERS = [0, 1, -3, 1.5, 2.0, 1e21, 1e-7, 123456789012, 0.1, -0.0]

PATHS = [
    "$.properties.name",
    "properties.price",
    "$.traits",
    "$.properties",
    "$.context.page.url",
    "$.context",
    "$.properties.tags[0]",
    "$.properties.tags.length",
    "$.properties['Mixed Case']",
    '$.properties["a.b"]',
    "$.properties.name.length",
    "$.properties.name[1]",
    "$.properties.arr[1].x",
    "$.properties.obj.inner",
    "$.properties.obj",
    "$.properties.zero.x",
    "$.properties.nil.y",
    "$.properties.empty.z",
    "$.properties.flag",
    "$.missing.x",
    "$.",
    "$",
    "",
    ".",
    "$.event",
    "$.type",
    "$.userId",
    "a.$.b",
    "traits.email",
    "$.properties.tags",
    "$.properties.arr",
    "$.properties.0",
    "name",
    "x",
    "inner",
    "$.properties.constructor",
    "$.properties.toString",
    "$.properties.hasOwnProperty",
    "$.properties.name.constructor",
    "$.properties.tags.constructor",
    "$.properties.price.toFixed",
    "$.properties.obj.valueOf",
    "$.properties.constructor.name",
    "$.context.page.__proto__",
]
LIQUID = [
    "{{ properties.name }}",
    "{{ properties.name | upcase }}",
    "{{ properties.name | downcase | append: '!' }}",
    "{{ properties.missing | default: 'none' }}",
    "{% if properties.flag %}yes{% else %}no{% endif %}",
    "{% if properties.name == 'hello' %}h{% elsif properties.name %}n{% endif %}",
    "{% assign a = properties.name %}<{{ a }}>",
    "{% capture c %}x{{ event }}{% endcapture %}{{ c }}",
    "{{ properties.tags | join: ',' }}",
    "{{ properties.tags | first }}",
    "{{ properties.tags | size }}",
    "{{ properties.name | size }}",
    "{{ properties.name | nosuch }}",
    "{{ properties.name | replace: 'l', 'L' }}",
    "{{ properties.name | truncate: 5 }}",
    "{{ 10 | divided_by: 4 }}",
    "{{ 7 | plus: 3 }}",
    "{{ properties.tags | map: 'x' }}",
    "{{ properties.tags | reverse }}",
    "{% for x in properties.tags %}{{ x }}{% endfor %}",
    "{% case event %}{% when 'a' %}a{% endcase %}",
    "{% tablerow x in properties.tags %}{{ x }}{% endtablerow %}",
    "{% render 'x' %}",
    "{% nosuch %}",
    "{{ event }}-{{ type }}",
    "{{ userId | default: anonymousId }}",
    "plain text",
    "",
    "{{",
    "x" * 1001,
]


class Gen:
    """Random events and mappings; the generator leans valid, with deliberate faults."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, items: list[Any]) -> Any:
        return self.r.choice(items)

    # Events

    def scalar(self) -> Any:
        kind = self.r.randrange(6)
        if kind == 0:
            return None
        if kind == 1:
            return self.chance(0.5)
        if kind == 2:
            return self.pick(NUMBERS)
        return self.pick(STRINGS)

    def value(self, depth: int = 0) -> Any:
        if depth < 2 and self.chance(0.2):
            return [self.value(depth + 1) for _ in range(self.r.randrange(4))]
        if depth < 2 and self.chance(0.15):
            return self.props(depth + 1)
        return self.scalar()

    def props(self, depth: int = 0) -> dict[str, Any]:
        keys = self.r.sample(WORDS, self.r.randrange(len(WORDS)))
        out = {k: self.value(depth) for k in keys}
        if self.chance(0.3):
            out["name"] = self.pick(STRINGS)
        if self.chance(0.3):
            out["tags"] = [self.scalar() for _ in range(self.r.randrange(4))]
        if self.chance(0.2):
            out["arr"] = [{"x": self.scalar()}, {"x": self.scalar()}, self.scalar()]
        if self.chance(0.2):
            out["obj"] = {"inner": self.value(2), "other": self.scalar(), "n": None}
        for key in ("zero", "empty", "nil", "flag"):
            if self.chance(0.2):
                out[key] = {"zero": 0, "empty": "", "nil": None, "flag": False}[key]
        if self.chance(0.1):
            out["Mixed Case"] = self.scalar()
        if self.chance(0.1):
            out["a.b"] = self.scalar()
        if self.chance(0.05):
            out["0"] = self.scalar()
        if self.chance(0.1):
            out[self.pick(INHERITED)] = self.value(depth + 1)
        if self.chance(0.04):
            # A `__proto__` of every kind: a copy that assigns it gets that prototype (an
            # object, an array, or none: then V8 cannot print the copy); a primitive is
            # ignored. A `toString` key: V8 cannot print the object either.
            out["__proto__"] = self.pick(
                [None, {"name": "p", "toString": "t"}, {"name": "p"}, [1, {"x": 2}], "s", 0]
            )
        return out

    def event(self) -> dict[str, Any]:
        kind = self.pick(["track", "identify", "page", "group", "screen"])
        event: dict[str, Any] = {"type": kind, "messageId": f"m-{self.r.randrange(1000)}"}
        if self.chance(0.8):
            event["anonymousId"] = self.pick(["anon-1", "", None])
        if self.chance(0.6):
            event["userId"] = self.pick(["user-1", None, 42])
        if kind == "track":
            event["event"] = self.pick(["Order Completed", "", "Kameleoon identifier"])
        if kind in ("page", "screen") and self.chance(0.7):
            event["name"] = self.pick(["Home", "", None])
        if kind == "group":
            event["groupId"] = "g-1"
        if kind in ("identify", "group") or self.chance(0.2):
            event["traits"] = self.props()
        if kind in ("track", "page", "screen") or self.chance(0.2):
            event["properties"] = self.props()
        if self.chance(0.7):
            event["context"] = {"page": {"url": self.pick(["https://x.io/a?b=1", None])}}
        if self.chance(0.1):
            event["$"] = self.scalar()
        if self.chance(0.02):
            event["__proto__"] = self.pick([None, "s", 1, {"name": "p"}, {"toString": 1}])
        return event

    # Mappings

    def path(self) -> Any:
        if self.chance(0.08):
            return self.directive(1)
        if self.chance(0.03):
            return self.scalar()
        return self.pick(PATHS)

    def node(self, depth: int) -> Any:
        """Any mapping value: a directive, a raw value, or a raw object/array of nodes."""
        roll = self.r.random()
        if depth > 3 or roll < 0.2:
            return self.scalar()
        if roll < 0.75:
            return self.directive(depth + 1)
        if roll < 0.9:
            keys = WORDS if self.chance(0.9) else [*WORDS, "__proto__", "toString"]
            return {self.pick(keys): self.node(depth + 1) for _ in range(self.r.randrange(4))}
        return [self.node(depth + 1) for _ in range(self.r.randrange(3))]

    def directive(self, depth: int) -> Any:
        build = self.pick(
            [
                self.d_path,
                self.d_path,
                self.d_template,
                self.d_if,
                self.d_case,
                self.d_replace,
                self.d_array_path,
                self.d_literal,
                self.d_flatten,
                self.d_json,
                self.d_merge,
                self.d_transform,
                self.d_exclude,
                self.d_liquid,
                self.d_broken,
                self.d_copy,
            ]
        )
        if self.chance(0.004):
            build = self.d_deep
        directive = build(depth)
        if isinstance(directive, dict) and self.chance(0.03):
            directive["_metadata"] = {"note": 1}
        return directive

    def maybe(self, opts: dict[str, Any], p: float = 0.1) -> dict[str, Any]:
        """Occasionally damage an options object: drop a key, add one, or replace it."""
        if opts and self.chance(p):
            opts.pop(self.pick(list(opts)))
        if self.chance(p):
            opts[self.pick(["extra", "value", "blank", "@path"])] = self.node(3)
        return opts

    def d_path(self, depth: int) -> Any:
        return {"@path": self.path()}

    def d_template(self, depth: int) -> Any:
        parts = []
        for _ in range(self.r.randrange(1, 4)):
            path = self.pick(PATHS)
            parts.append(
                self.pick([f"{{{{{path}}}}}", f"{{{{ {path} }}}}", f"{{{{{{{path}}}}}}}", "-"])
            )
        text = "".join(parts)
        if self.chance(0.05):
            return {"@template": self.pick([{"@path": "$.properties.name"}, 5, None])}
        return {"@template": text}

    def d_if(self, depth: int) -> Any:
        opts: dict[str, Any] = {}
        opts[self.pick(["exists", "exists", "blank"])] = self.node(depth)
        if self.chance(0.7):
            opts["then"] = self.node(depth)
        if self.chance(0.6):
            opts["else"] = self.node(depth)
        if self.chance(0.05):
            return {"@if": self.scalar()}
        return {"@if": self.maybe(opts)}

    def d_case(self, depth: int) -> Any:
        opts = {
            "operator": self.pick(["lower", "upper", "lower", "upper", "title", 1]),
            "value": self.node(depth) if self.chance(0.3) else self.d_path(depth),
        }
        return {"@case": self.maybe(opts)}

    def d_replace(self, depth: int) -> Any:
        chars = "lo Wa-.$&*Ü"
        opts: dict[str, Any] = {
            "pattern": "".join(self.pick(list(chars)) for _ in range(self.r.randrange(0, 12))),
            "value": self.d_path(depth) if self.chance(0.8) else self.node(depth),
        }
        if self.chance(0.7):
            opts["replacement"] = self.pick(["", "_", "$&$&", "$$", "$`|", "$'", "$1", "x" * 11])
        if self.chance(0.4):
            opts["global"] = self.pick([True, False, "yes"])
        if self.chance(0.4):
            opts["ignorecase"] = self.pick([True, False, 1])
        if self.chance(0.3):
            opts["pattern2"] = self.pick(["l", "o", "", "toolongpattern", 3])
            if self.chance(0.6):
                opts["replacement2"] = self.pick(["L", "", 5, None])
        if self.chance(0.03):
            return {"@replace": self.node(depth)}
        return {"@replace": self.maybe(opts, 0.05)}

    def d_array_path(self, depth: int) -> Any:
        shape = self.pick(
            [
                {"x": {"@path": "$.x"}, "all": {"@path": "$."}},
                {"v": {"@template": "{{x}}!"}},
                {},
                None,
                "shape",
            ]
        )
        data: list[Any] = [self.path()]
        if self.chance(0.85):
            data.append(shape)
        if self.chance(0.05):
            return {"@arrayPath": self.scalar()}
        if self.chance(0.05):
            return {"@arrayPath": []}
        return {"@arrayPath": data}

    def d_literal(self, depth: int) -> Any:
        return {"@literal": self.node(depth) if self.chance(0.6) else self.value()}

    def d_flatten(self, depth: int) -> Any:
        opts: dict[str, Any] = {
            "value": self.pick(
                [{"@path": "$.properties"}, {"@path": "$.context"}, self.node(depth)]
            ),
            "separator": self.pick([".", "_", "", 1, {"@path": "$.properties.name"}]),
        }
        if self.chance(0.4):
            opts["omitArrays"] = self.pick([True, False, 1, "", None])
        return {"@flatten": self.maybe(opts)}

    def d_json(self, depth: int) -> Any:
        opts = {
            "mode": self.pick(["encode", "decode", "encode", "decode", "ENCODE", "other", 1]),
            "value": self.node(depth) if self.chance(0.5) else self.d_path(depth),
        }
        if self.chance(0.25):
            opts["mode"] = "decode"
            opts["value"] = self.pick(NUMBER_SPELLINGS)
        return {"@json": self.maybe(opts)}

    def d_deep(self, depth: int) -> Any:
        """A deep mapping or a deep decoded value, at a depth the reference maps."""
        levels = self.pick(list(DEEP))
        leaf = self.scalar()
        if self.chance(0.5):
            text = "[" * levels + json.dumps(leaf) + "]" * levels
        else:
            text = '{"a":' * levels + json.dumps(leaf) + "}" * levels
        decoded = {"@json": {"mode": "decode", "value": text}}
        roll = self.r.random()
        if roll < 0.3:
            return decoded
        if roll < 0.45:
            return {"@json": {"mode": "encode", "value": decoded}}
        if roll < 0.6:
            return {"@excludeWhenNull": decoded}
        if roll < 0.8:
            node: Any = {"@path": self.pick(PATHS)}
            for _ in range(levels):
                node = {self.pick(WORDS): node}
            return node
        literal: Any = leaf
        for _ in range(levels):
            literal = {"a": literal}
        return {"@merge": {"objects": [literal, {"@path": "$.properties"}], "direction": "right"}}

    def d_merge(self, depth: int) -> Any:
        objects = [
            self.pick(
                [
                    {"@path": "$.properties"},
                    {"@path": "$.traits"},
                    {"@path": "$.properties.name"},
                    {"@path": "$.properties.tags"},
                    {"a": self.node(depth), "name": {"@path": "$.missing"}},
                    {"name": "fixed"},
                    "str",
                ]
            )
            for _ in range(self.r.randrange(4))
        ]
        opts: dict[str, Any] = {
            "objects": objects,
            "direction": self.pick(["left", "right", "LEFT", "up"]),
        }
        if self.chance(0.03):
            opts["objects"] = self.scalar()
        return {"@merge": self.maybe(opts)}

    def d_copy(self, depth: int) -> Any:
        """A copy that assigns keys (so a `__proto__` key sets its prototype), printed."""
        source = {"@path": self.pick(["$.properties", "$.traits", "$.properties.obj", "$."])}
        copy = self.pick(
            [
                {"@excludeWhenNull": source},
                {"@merge": {"objects": [source], "direction": "right"}},
                {"@transform": {"apply": {"x": source}, "mapping": {"@path": "$.x"}}},
            ]
        )
        return self.pick(
            [
                {"@if": {"blank": copy, "then": copy, "else": "blank"}},
                {"@transform": {"apply": {"c": copy}, "mapping": {"@template": "{{c}}"}}},
                {"@json": {"mode": "encode", "value": copy}},
                copy,
            ]
        )

    def d_transform(self, depth: int) -> Any:
        apply = self.pick(
            [
                {"x": {"@path": "$.properties.name"}, "t": {"@path": "$.type"}},
                {"inner": self.node(depth)},
                {"@path": "$.properties"},
                {"bad": {"@nope": 1}},
                {"x": {"@path": "$.properties"}},
                {"@path": "$."},
            ]
        )
        mapping = self.pick(
            [
                {"out": {"@path": "$.x"}, "t": {"@template": "{{t}}"}},
                {"@path": "$."},
                {"k": 1},
                {"@template": "{{x}}|{{name}}|{{x.name}}|{{properties.name}}"},
                {"@if": {"blank": {"@path": "$.x"}, "then": 1, "else": 2}},
                {"@liquid": "{{ x }}{{ name }}"},
                {"a": {"@path": "$.x.toString"}, "b": {"@path": "$.name"}},
            ]
        )
        opts = {"apply": apply, "mapping": mapping}
        if self.chance(0.05):
            opts["apply"] = self.scalar()
        return {"@transform": self.maybe(opts)}

    def d_exclude(self, depth: int) -> Any:
        return {"@excludeWhenNull": self.node(depth) if self.chance(0.4) else self.d_path(depth)}

    def d_liquid(self, depth: int) -> Any:
        if self.chance(0.03):
            return {"@liquid": self.scalar()}
        return {"@liquid": self.pick(LIQUID)}

    def d_broken(self, depth: int) -> Any:
        return self.pick(
            [
                {"@bogus": 1},
                {"@path": "$.x", "@template": "y"},
                {"@path": "$.properties.name", "other": 1},
                {"@Path": "x"},
                {"@": 1},
            ]
        )

    def mapping(self) -> Any:
        roll = self.r.random()
        if roll < 0.85:
            return {f"f{i}": self.node(0) for i in range(self.r.randrange(1, 5))}
        if roll < 0.93:
            return self.directive(0)
        if roll < 0.95:
            root = self.pick(
                [
                    {"@transform": {"apply": {"x": {"@path": "$.properties"}}}},
                    {"@arrayPath": ["$.properties.arr", {"x": {"@path": "$.x"}}]},
                    {"@path": "$.x", "@if": {}},
                    {},
                    "s",
                ]
            )
            fields = {f"f{i}": self.node(1) for i in range(self.r.randrange(3))}
            return {"__segment_internal_directive": root, **fields}
        return self.pick([[self.node(1)], "ab", 3, None, {"@path": "$."}])


def _cases(seed: int = SEED, count: int = CASES) -> list[dict[str, Any]]:
    gen = Gen(seed)
    cases = [{"mapping": gen.mapping(), "event": gen.event()} for _ in range(count)]
    # A JSON round trip makes both sides start from identical values (on a deep stack:
    # some cases are deeper than Python's default one).
    return deep_call(lambda: json.loads(json.dumps(cases)))


def _same(a: Any, b: Any) -> bool:
    """The reference's JSON output `a` and ours, `b`, alike as we would send them.

    Numbers as V8 writes them: an integral double is written without a fraction
    (JSON.parse gives it back as an int), Infinity and NaN as null; we must hold the
    same (an int, not 100.0, which orjson would write as such).
    """
    if isinstance(b, float) and not math.isfinite(b):
        return a is None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # JS key order too
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


_LEFT_OUT = object()
_PROTOTYPE_JSON: dict[str, Any] = {"Object": {}, "Array": [], "String": "", "Number": 0}


def _as_sent(value: Any) -> Any:
    """Our output as our requests carry it: built-in functions left out (null in an
    array), prototypes as V8 writes them, `__proto__` keys dropped (as encode_body drops
    them; compile_mapping's own output has none); numbers stay as we hold them."""
    if type(value) is JSFunction or (type(value) is JSPrototype and value.kind == "Function"):
        return _LEFT_OUT
    if type(value) is JSPrototype:
        return _PROTOTYPE_JSON.get(value.kind, False)  # Boolean.prototype is false
    if isinstance(value, dict):
        pairs = ((k, _as_sent(v)) for k, v in value.items())
        return {k: v for k, v in pairs if v is not _LEFT_OUT and k != "__proto__"}
    if isinstance(value, list):
        return [None if (v := _as_sent(item)) is _LEFT_OUT else v for item in value]
    return value


def _ours(case: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"valid": not validate_mapping(case["mapping"]), "error": None}
    try:
        # Both reach the relay as parsed JSON in JavaScript's shape (key order, numbers).
        output = compile_mapping(as_js_value(case["mapping"]))(as_js_value(case["event"]))
    except MappingError as error:
        result["error"] = "; ".join(error.problems)
        return result
    except MappingEvaluationError as error:
        result["error"] = str(error)
        return result
    sent = UNDEFINED if output is UNDEFINED else deep_call(_as_sent, output)
    result["output"] = {"undefined": True} if sent in (UNDEFINED, _LEFT_OUT) else {"value": sent}
    return result


def _problems_match(ours: list[str], theirs: list[str]) -> bool:
    for problem in theirs:
        # The reference loses the location of @merge's objects; compare the rest.
        if problem not in ours and not any(q.endswith(problem[2:]) for q in ours):
            return False
    return True


@pytest.fixture(scope="module")
def compared() -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    cases = _cases()
    results = []
    for start in range(0, len(cases), CHUNK):
        chunk = cases[start : start + CHUNK]
        references = deep_call(run_oracle, "mapping_oracle.js", chunk)
        results.extend((c, r, _ours(c)) for c, r in zip(chunk, references, strict=True))
    return results


def test_cover_the_directives_and_both_outcomes(compared: list[Any]) -> None:
    text = deep_call(json.dumps, [c["mapping"] for c, _, _ in compared])
    for name in ("@path", "@template", "@if", "@case", "@replace", "@arrayPath", "@literal"):
        assert text.count(name) > 200, name
    for name in ("@flatten", "@json", "@merge", "@transform", "@excludeWhenNull", "@liquid"):
        assert text.count(name) > 200, name
    assert len(compared) == CASES >= 5000  # as many as asked for (a long run says so)
    valid = [r for _, r, _ in compared if r["valid"] and r["error"] is None]
    assert 0.3 * len(compared) < len(valid) < 0.9 * len(compared)


def _depth(case: dict[str, Any]) -> int:
    """How deep the case's mapping, or a JSON text in it, is nested."""
    text = deep_call(json.dumps, case["mapping"])
    runs = re.findall(r'\[+|(?:\{\\"a\\":)+', text)  # nested arrays or {"a": ...} texts
    deepest_text = max((run.count("[") + run.count("{") for run in runs), default=0)
    return max(nesting_depth(case["mapping"]), deepest_text)


def test_cover_number_spellings_and_deep_values(compared: list[Any]) -> None:
    text = deep_call(json.dumps, [c["mapping"] for c, _, _ in compared])
    for spelling in NUMBER_SPELLINGS:
        assert json.dumps(spelling) in text, spelling
    depths = [_depth(c) for c, _, _ in compared]
    for levels in DEEP:
        assert levels in depths or any(d > levels for d in depths), levels
    assert sum(d >= DEEP[0] for d in depths) >= 10


def test_validity_agrees(compared: list[Any]) -> None:
    bad = [
        (c["mapping"], r["problems"], validate_mapping(c["mapping"]))
        for c, r, o in compared
        if r["valid"] != o["valid"]
    ]
    assert not bad, bad[:3]


def test_problems_name_what_the_reference_names(compared: list[Any]) -> None:
    bad = [
        (r["problems"], validate_mapping(c["mapping"]))
        for c, r, _ in compared
        if not r["valid"] and not _problems_match(validate_mapping(c["mapping"]), r["problems"])
    ]
    assert not bad, bad[:3]


def _errors_differ(case: dict[str, Any], ref: dict[str, Any], ours: dict[str, Any]) -> bool:
    """Both fail or neither; plain Errors (not liquid's, not validation's) word it alike."""
    if (ref["error"] is None) != (ours["error"] is None):
        return True
    comparable = ref["kind"] in ("Error", "TypeError") and "@liquid" not in deep_call(
        json.dumps, case["mapping"]
    )
    return comparable and ref["error"] != ours["error"]


def test_errors_agree(compared: list[Any]) -> None:
    bad = [(c, r["error"], o["error"]) for c, r, o in compared if _errors_differ(c, r, o)]
    assert not bad, bad[:3]


def test_outputs_agree(compared: list[Any]) -> None:
    bad = [
        (case, ref["output"], ours["output"])
        for case, ref, ours in compared
        if ref["error"] is None
        and ours["error"] is None
        and not deep_call(_same, ref["output"], ours["output"])
    ]
    assert not bad, bad[:3]
