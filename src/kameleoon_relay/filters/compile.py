"""Destination filters, applied as Segment applies them: Sample, Drop, Drop Properties,
Allow Properties, in that order whatever order the config lists them in.

Sampling is deterministic by messageId, so a replay samples the same way. A
filter that cannot be evaluated drops the event and says why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kameleoon_relay.errors import RelayError
from kameleoon_relay.fql import FQLSyntaxError, compile_trigger

KIND_ORDER = ("sample", "drop", "drop_properties", "allow_properties")
_KEYS = {
    "sample": {"percent", "if"},
    "drop_properties": {"if", "fields"},
    "allow_properties": {"if", "fields"},
}


@dataclass(frozen=True)
class Dropped:
    filter: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"filter": self.filter, "reason": self.reason}


@dataclass
class FilterResult:
    event: dict[str, Any] | None
    dropped: Dropped | None = None
    removed: dict[str, list[str]] = field(default_factory=dict)  # filter name -> field paths


Filter = Callable[[dict[str, Any]], "dict[str, Any] | Dropped"]


class FilterConfigError(RelayError, ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def _condition(spec: dict[str, Any], where: str, problems: list[str]) -> Callable[[dict], bool]:
    text = spec.get("if")
    if text is None:
        return lambda event: True
    if not isinstance(text, str):
        problems.append(f"{where}.if: must be an FQL string")
        return lambda event: True
    try:
        return compile_trigger(text)
    except FQLSyntaxError as error:
        problems.append(f"{where}.if: {error}")
        return lambda event: True


def _fields(spec: dict[str, Any], where: str, problems: list[str]) -> list[tuple[str, ...]]:
    fields = spec.get("fields")
    if (
        not isinstance(fields, list)
        or not fields
        or not all(isinstance(f, str) and f for f in fields)
    ):
        problems.append(f"{where}.fields: must be a non-empty list of field paths")
        return []
    return [tuple(f.split(".")) for f in fields]


def sample_bucket(message_id: str) -> float:
    """A stable number in [0, 100) for a messageId."""
    digest = hashlib.blake2b(message_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10000 / 100


def _sample(spec: Any, name: str, where: str, problems: list[str]) -> Filter:
    if not isinstance(spec, dict):
        spec = {"percent": spec}
    percent = spec.get("percent")
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        problems.append(f"{where}.percent: must be a number from 0 to 100")
        percent = 100
    applies = _condition(spec, where, problems)

    def sample(event: dict[str, Any]) -> dict[str, Any] | Dropped:
        if not applies(event):
            return event
        message_id = event.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            return Dropped(name, "cannot sample an event without a messageId")
        if sample_bucket(message_id) < percent:
            return event
        return Dropped(name, f"not in the {percent:g}% sample")

    return sample


def _drop(spec: Any, name: str, where: str, problems: list[str]) -> Filter:
    if not isinstance(spec, str):
        problems.append(f"{where}: must be an FQL string")
        return lambda event: event
    try:
        matches = compile_trigger(spec)
    except FQLSyntaxError as error:
        problems.append(f"{where}: {error}")
        return lambda event: event

    def drop(event: dict[str, Any]) -> dict[str, Any] | Dropped:
        return Dropped(name, f"matched {spec}") if matches(event) else event

    return drop


def _present_paths(event: dict[str, Any], paths: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    found = []
    for path in paths:
        node: Any = event
        for key in path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            found.append(path)
    return found


def _without(node: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """A copy of `node` without `path`; only the objects along the path are copied."""
    head, rest = path[0], path[1:]
    if not isinstance(node, dict) or head not in node:
        return node  # already gone, e.g. with a parent listed too
    copied = dict(node)
    if rest:
        copied[head] = _without(node[head], rest)
    else:
        del copied[head]
    return copied


def _field_options(
    spec: Any, where: str, problems: list[str]
) -> tuple[Callable[[dict], bool], list[tuple[str, ...]]]:
    """`{if?, fields}` of the property filters: the condition and the field paths."""
    if not isinstance(spec, dict):
        problems.append(f"{where}: must be a mapping with fields (and optionally if)")
        return (lambda event: False), []
    return _condition(spec, where, problems), _fields(spec, where, problems)


def _drop_properties(spec: Any, name: str, where: str, problems: list[str]) -> Filter:
    applies, paths = _field_options(spec, where, problems)

    def drop_properties(event: dict[str, Any]) -> dict[str, Any]:
        present = _present_paths(event, paths) if applies(event) else []
        if not present:
            return event
        for path in present:
            event = _without(event, path)
        return event

    return drop_properties


def _allow_properties(spec: Any, name: str, where: str, problems: list[str]) -> Filter:
    """Keep only the listed fields inside each object the list names (e.g. properties)."""
    applies, paths = _field_options(spec, where, problems)
    allowed: dict[str, list[tuple[str, ...]]] = {}
    for path in paths:
        if len(path) < 2:
            problems.append(
                f"{where}.fields: {'.'.join(path)!r} must name a field inside an "
                "object, e.g. properties.revenue"
            )
            continue
        allowed.setdefault(path[0], []).append(path[1:])

    def allow_properties(event: dict[str, Any]) -> dict[str, Any]:
        if not applies(event):
            return event
        result = dict(event)
        for top, keep in allowed.items():
            source = event.get(top)
            if isinstance(source, dict):
                result[top] = _keep_only(source, keep)
        return result

    return allow_properties


def _keep_only(source: dict[str, Any], keep: list[tuple[str, ...]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in source.items():
        nested = [path[1:] for path in keep if path[0] == key]
        if not nested:
            continue
        if any(not rest for rest in nested) or not isinstance(value, dict):
            out[key] = value
        else:
            out[key] = _keep_only(value, [rest for rest in nested if rest])
    return out


_BUILDERS = {
    "sample": _sample,
    "drop": _drop,
    "drop_properties": _drop_properties,
    "allow_properties": _allow_properties,
}


@dataclass(frozen=True)
class CompiledFilters:
    filters: tuple[tuple[str, str, Filter], ...]  # (kind, name, filter)

    def __bool__(self) -> bool:
        return bool(self.filters)

    def apply(self, event: dict[str, Any]) -> FilterResult:
        result = FilterResult(event)
        current = event
        for kind, name, run in self.filters:
            try:
                outcome = run(current)
            except Exception as error:  # a filter must never take the relay down
                return FilterResult(None, Dropped(name, f"filter could not be evaluated: {error}"))
            if isinstance(outcome, Dropped):
                return FilterResult(None, outcome, result.removed)
            if kind in ("drop_properties", "allow_properties") and outcome is not current:
                gone = _removed_paths(current, outcome)
                if gone:
                    result.removed[name] = gone
            current = outcome
        result.event = current
        return result


def _removed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return []
    gone: list[str] = []
    for key, value in before.items():
        path = f"{prefix}{key}"
        if key not in after:
            gone.append(path)
        elif value is not after[key]:
            gone.extend(_removed_paths(value, after[key], f"{path}."))
    return gone


def filter_name(spec: dict[str, Any], kind: str, index: int) -> str:
    name = spec.get("name")
    return name if isinstance(name, str) and name else f"{kind}[{index}]"


def compile_filters(
    specs: tuple[dict[str, Any], ...] | list[dict[str, Any]], where: str = "filters"
) -> CompiledFilters:
    """Compile a destination's filter list; FilterConfigError lists every problem."""
    problems: list[str] = []
    compiled: list[tuple[int, int, str, str, Filter]] = []
    for index, spec in enumerate(specs):
        item_where = f"{where}[{index}]"
        if not isinstance(spec, dict):
            problems.append(f"{item_where}: must be a mapping such as {{drop: 'event = \"x\"'}}")
            continue
        kinds = [key for key in spec if key in _BUILDERS]
        extra = [key for key in spec if key not in _BUILDERS and key != "name"]
        if len(kinds) != 1 or extra:
            problems.append(
                f"{item_where}: must have exactly one of {', '.join(KIND_ORDER)} "
                "(and optionally name)"
            )
            continue
        kind = kinds[0]
        options = spec[kind]
        if isinstance(options, dict) and kind in _KEYS:
            for key in options:
                if key not in _KEYS[kind]:
                    problems.append(f"{item_where}.{kind}.{key}: unknown key")
        name = filter_name(spec, kind, index)
        run = _BUILDERS[kind](options, name, f"{item_where}.{kind}", problems)
        compiled.append((KIND_ORDER.index(kind), index, kind, name, run))
    if problems:
        raise FilterConfigError(problems)
    compiled.sort(key=lambda item: (item[0], item[1]))
    return CompiledFilters(tuple((kind, name, run) for _, _, kind, name, run in compiled))
