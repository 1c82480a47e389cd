"""Turn tokens into conditions exactly as ``@segment/destination-subscriptions`` does.

The reference is a flat token walk, not a grammar, and its answers follow from that:
- every condition at one level is joined by the LAST ``and``/``or`` seen at that
  level (no precedence: ``a and b or c`` means ``a or b or c``); ``AND``/``OR``
  are plain words and are skipped, leaving the default ``and``;
- a condition is a known field (``type event name userId properties traits
  context`` as the first dot-separated part) followed by ANY two tokens, the
  operator and the value (``type =`` compares with the token ``eos``);
- tokens it does not understand (stray strings, numbers, words) are skipped;
- ``(`` collects tokens up to the first ``)``: a nested ``(`` inside fails;
- ``contains(a, b)`` and ``match(a, b)`` take the 2nd and 4th tokens as the
  arguments whatever the others are, and ``!`` before them negates;
- a trigger with no condition is an error.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from kameleoon_relay.fql.errors import FQLSyntaxError
from kameleoon_relay.fql.lexer import Token, tokenize
from kameleoon_relay.js.members import OBJECT_MEMBERS
from kameleoon_relay.js.operators import to_number
from kameleoon_relay.js.strings import to_js_string

Value = str | float | bool | None


@dataclass(frozen=True, slots=True)
class Condition:
    """Compare one field of the event: ``source`` is ``type``, ``event``, ``name``,
    ``userId`` (top-level fields) or ``properties``, ``traits``, ``context``
    (then ``path`` is read inside it). ``value`` is None when the operator has none."""

    source: str
    path: str | None
    operator: str
    value: Value


@dataclass(frozen=True, slots=True)
class Group:
    operator: Literal["and", "or"]
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Empty:
    """A ``( ... )`` group without any condition: evaluating it throws in the reference."""

    position: int


Node = Condition | Group | Empty

_TOP_LEVEL: Final = ("type", "event", "name", "userId")
_NESTED: Final = ("properties", "traits", "context")
# Names JavaScript finds on any object (Object.prototype): the reference's field
# table lookup sees them, takes an operator and a value, and adds no condition.
_INHERITED: Final = OBJECT_MEMBERS
_NESTED_PREFIX: Final = re.compile(r"^(properties|traits|context)")


def _token_value(token: Token) -> Value:
    """The reference's ``getTokenValue``: unquote "strings", read numbers and booleans."""
    if token.kind == "string":
        value = token.value
        value = value[1:] if value.startswith('"') else value
        return value[:-1] if value.endswith('"') else value
    if token.kind == "number":
        return to_number(token.value)
    if token.kind == "ident" and token.value in ("true", "false"):
        return token.value == "true"
    return token.value


def _normalize(tokens: list[Token]) -> list[Token]:
    """Join ``ident . ident`` runs into one dotted identifier."""
    out: list[Token] = []
    index = 0
    while index < len(tokens):
        current = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if (
            out
            and out[-1].kind == "ident"
            and current.kind == "dot"
            and following is not None
            and following.kind == "ident"
        ):
            head = out.pop()
            out.append(Token("ident", f"{head.value}.{following.value}", head.position))
            index += 2
        else:
            out.append(current)
            index += 1
    return out


def _nested_path(source: str, name: str) -> str:
    # Only "source." is stripped: a bare "properties" reads properties.properties.
    return name[len(source) + 1 :] if name.startswith(source + ".") else name


class _Parser:
    def __init__(self, text: str) -> None:
        self.end = len(text)

    def take(self, tokens: deque[Token], what: str) -> Token:
        if not tokens:
            raise FQLSyntaxError(f"unexpected end of trigger, expected {what}", self.end)
        return tokens.popleft()

    def parse(self, tokens: deque[Token]) -> Node | None:
        nodes: list[Node] = []
        operator: Literal["and", "or"] = "and"
        while tokens and tokens[0].kind != "eos":
            token = tokens.popleft()
            if token.kind == "ident":
                self.field(token, tokens, nodes)
                if token.value in ("contains", "match"):
                    self.function(token.value, tokens, nodes, negate=False)
            elif token.kind == "operator" and token.value == "!":
                upcoming = self.take(tokens, "a token after '!'")
                tokens.appendleft(upcoming)
                if upcoming.kind == "ident" and upcoming.value in ("contains", "match"):
                    self.function(tokens.popleft().value, tokens, nodes, negate=True)
            elif token.kind == "parenleft":
                nodes.append(self.group(token, tokens))
            elif token.kind == "conditional":
                operator = "or" if token.value == "or" else "and"
        if len(nodes) > 1:
            return Group(operator, tuple(nodes))
        return nodes[0] if nodes else None

    def group(self, opening: Token, tokens: deque[Token]) -> Node:
        inner: deque[Token] = deque()
        while True:
            if not tokens:
                raise FQLSyntaxError("unclosed '('", opening.position)
            token = tokens.popleft()
            if token.kind == "parenright":
                break
            inner.append(token)
        inner.append(Token("eos", "eos", self.end))
        node = self.parse(inner)
        return Empty(opening.position) if node is None else node

    def field(self, token: Token, tokens: deque[Token], nodes: list[Node]) -> None:
        source = token.value.split(".")[0]
        if source not in _TOP_LEVEL and source not in _NESTED and source not in _INHERITED:
            return
        op_token = self.take(tokens, f"an operator after {token.value!r}")
        value_token = self.take(tokens, f"a value after {token.value!r}")
        if source in _INHERITED:
            return
        op, raw = op_token.value, value_token.value
        special = None
        if op == "!=" and raw == "null":
            special = "exists"
        elif op == "=" and raw == "null":
            special = "not_exists"
        elif op == "=" and raw in ("true", "false"):
            special = "is_true" if raw == "true" else "is_false"
        elif value_token.kind == "number" and op in ("=", "!="):
            special = "number_equals" if op == "=" else "number_not_equals"
        if source in ("type", "event") or (
            source == "name" and special not in ("exists", "not_exists")
        ):
            special = None
        if source == "userId" and special in ("number_equals", "number_not_equals"):
            special = None

        if source in _TOP_LEVEL:
            if special is not None:
                nodes.append(Condition(source, None, special, None))
            else:
                nodes.append(Condition(source, None, op, to_js_string(_token_value(value_token))))
            return
        path = _nested_path(source, token.value)
        if special is None:
            nodes.append(Condition(source, path, op, _token_value(value_token)))
        elif special.startswith("number_"):
            nodes.append(Condition(source, path, special, _token_value(value_token)))
        else:
            nodes.append(Condition(source, path, special, None))

    def function(self, name: str, tokens: deque[Token], nodes: list[Node], *, negate: bool) -> None:
        if tokens:
            tokens.popleft()  # "(" or whatever stands there
        target = self.take_argument(tokens, name, "1st")
        if tokens:
            tokens.popleft()  # ","
        value_token = self.take_argument(tokens, name, "2nd")
        if tokens:
            tokens.popleft()  # ")"
        text = to_js_string(_token_value(value_token))
        if name == "contains":
            operator = "not_contains" if negate else "contains"
        elif value_token.value.endswith('*"'):
            operator = "not_starts_with" if negate else "starts_with"
            text = text[:-1]
        else:
            operator = "not_ends_with" if negate else "ends_with"
            text = _drop_first_unit(text)
        if target.value in _TOP_LEVEL[1:]:
            nodes.append(Condition(target.value, None, operator, text))
        prefix = _NESTED_PREFIX.match(target.value)
        if prefix:
            source = prefix.group(1)
            nodes.append(Condition(source, _nested_path(source, target.value), operator, text))

    def take_argument(self, tokens: deque[Token], name: str, which: str) -> Token:
        if not tokens:
            raise FQLSyntaxError(f"{name}() is missing a {which} argument", self.end)
        return tokens.popleft()


def _drop_first_unit(text: str) -> str:
    """JavaScript ``text.slice(1)``: drops one UTF-16 unit, which may split a pair."""
    if not text or text[0] <= "\uffff":
        return text[1:]
    low = chr(0xDC00 + ((ord(text[0]) - 0x10000) & 0x3FF))
    return low + text[1:]


def parse(text: str) -> Group:
    """Parse a trigger into a top-level group, or raise FQLSyntaxError."""
    tokens = _normalize(tokenize(text))
    node = _Parser(text).parse(deque(tokens))
    if node is None or isinstance(node, Empty):
        first = tokens[0]
        if first.kind == "eos":
            raise FQLSyntaxError("empty trigger", 0)
        raise FQLSyntaxError(
            f"unexpected token {first.value!r}: the trigger has no condition", first.position
        )
    return node if isinstance(node, Group) else Group("and", (node,))


__all__ = ["Condition", "Empty", "Group", "Node", "parse"]
