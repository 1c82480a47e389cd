"""A Liquid engine that parses and renders the way liquidjs 10 does.

Segment renders `@liquid` with liquidjs; python-liquid parses and evaluates
differently in too many places (what a tag's arguments may contain, `{{}}`,
operator precedence, drops, JavaScript coercions), so the relay carries this
engine instead. The tokenizer follows liquidjs's scanner position by position:
its leniencies (`{{ a b }}` prints `a`, `{% if a, b %}` ignores `, b`) are part
of what users' templates rely on. Templates compile once; rendering walks the
compiled nodes with the event as the environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kameleoon_relay.js.members import has_own
from kameleoon_relay.js.numbers import string_to_number
from kameleoon_relay.js.operators import (
    js_ge,
    js_gt,
    js_le,
    js_lt,
    property_key,
    to_number,
    to_primitive,
)
from kameleoon_relay.js.strings import to_js_string
from kameleoon_relay.js.values import UNDEFINED, is_number, truthy
from kameleoon_relay.mapping.liquid.errors import (
    LiquidFilterError,
    LiquidMemoryLimitError,
    LiquidRenderError,
    LiquidSyntaxError,
)
from kameleoon_relay.mapping.liquid.filters import FILTERS
from kameleoon_relay.mapping.liquid.values import (
    BLOCK,
    LITERALS,
    Drop,
    equals,
    is_falsy,
    is_nil,
    read_property,
    stringify,
    to_value,
)

# Character classes of liquidjs's scanner.
WORD, BLANK, QUOTE, NUMBER, SIGN = 1, 4, 8, 32, 64
_ASCII_TYPES = [0] * 128
for _code in (9, 13, 32):
    _ASCII_TYPES[_code] = BLANK | 16
for _code in (10, 11, 12):
    _ASCII_TYPES[_code] = BLANK
for _code in (34, 39):
    _ASCII_TYPES[_code] = QUOTE
for _ch in "!<=>":
    _ASCII_TYPES[ord(_ch)] = 2
_ASCII_TYPES[ord("+")] = SIGN
_ASCII_TYPES[ord("-")] = SIGN | WORD
for _code in range(48, 58):
    _ASCII_TYPES[_code] = NUMBER | WORD
for _ch in "?_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _ASCII_TYPES[ord(_ch)] = WORD
# Beyond ASCII: these are blanks, two quotation marks are punctuation, the rest word.
_WIDE_BLANKS = {160, 5760, 6158, *range(8192, 8203), 8232, 8233, 8239, 8287, 12288}
_WIDE_PUNCTUATION = {8220, 8221}


def char_type(ch: str) -> int:
    code = ord(ch)
    if code < 128:
        return _ASCII_TYPES[code]
    if code in _WIDE_BLANKS:
        return BLANK
    return 128 if code in _WIDE_PUNCTUATION else 0


def is_word(ch: str) -> bool:
    if not ch:
        return False
    code = ord(ch)
    if code < 128:
        return bool(_ASCII_TYPES[code] & WORD)
    return code not in _WIDE_BLANKS and code not in _WIDE_PUNCTUATION


def _trie(words: list[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for i, ch in enumerate(word):
            node = node.setdefault(ch, {})
            if i == len(word) - 1 and is_word(ch):
                node["needBoundary"] = True
        node["end"] = word
    return root


OPERATORS = ["==", "!=", ">", "<", ">=", "<=", "contains", "not", "and", "or"]
_PRECEDENCE = {"==": 2, "!=": 2, ">": 2, "<": 2, ">=": 2, "<=": 2, "contains": 2}
_PRECEDENCE.update({"not": 1, "and": 0, "or": 0})
_OPERATOR_TRIE = _trie(OPERATORS)
_LITERAL_TRIE = _trie(list(LITERALS))
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\x0b"}
_HEX = set("0123456789abcdefABCDEF")
_OCT = set("01234567")


def _hex_value(ch: str) -> int:
    code = ord(ch)
    return code - 87 if code >= 97 else (code - 55 if code >= 65 else code - 48)


def recombine(text: str) -> str:
    """Join surrogate pairs that JavaScript would read as one character."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def parse_string_literal(text: str) -> str:
    out: list[str] = []
    i, last = 1, len(text) - 1
    while i < last:
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u":
            value, j = 0, i + 2
            while j <= i + 5:
                if j >= len(text):  # liquidjs reads past the end here and throws
                    raise LiquidSyntaxError("invalid unicode escape")
                if text[j] not in _HEX:
                    break
                value = value * 16 + _hex_value(text[j])
                j += 1
            out.append(chr(value))
            i = j
        elif nxt not in _OCT:
            out.append(nxt)
            i += 2
        else:
            value, j = 0, i + 1
            while j <= i + 3 and j < len(text) and text[j] in _OCT:
                value = value * 8 + _hex_value(text[j])
                j += 1
            out.append(chr(value))
            i = j
    return recombine("".join(out))


# Expression tokens. Each evaluates against a render context.


class Token:
    __slots__ = ("begin", "end", "source")

    def __init__(self, source: str, begin: int, end: int) -> None:
        self.source, self.begin, self.end = source, begin, end

    def text(self) -> str:
        return self.source[self.begin : self.end]

    def evaluate(self, ctx: Context) -> Any:
        raise NotImplementedError


class Constant(Token):
    """Number, literal, quoted string or bare word: evaluates to its content."""

    __slots__ = ("content",)

    def __init__(self, source: str, begin: int, end: int, content: Any) -> None:
        super().__init__(source, begin, end)
        self.content = content

    def evaluate(self, ctx: Context) -> Any:
        return self.content


class Operator(Token):
    __slots__ = ("name", "precedence")

    def __init__(self, source: str, begin: int, end: int) -> None:
        super().__init__(source, begin, end)
        self.name = source[begin:end]
        self.precedence = _PRECEDENCE.get(self.name, 1)


class PropertyAccess(Token):
    __slots__ = ("props", "variable")

    def __init__(
        self, source: str, begin: int, end: int, variable: Token | None, props: list[Token]
    ) -> None:
        super().__init__(source, begin, end)
        self.variable, self.props = variable, props

    def evaluate(self, ctx: Context) -> Any:
        keys = [to_value(prop.evaluate(ctx)) for prop in self.props]
        if self.variable is not None:
            value = self.variable.evaluate(ctx)
            start = 0
        else:
            value = ctx.lookup(keys[0])
            start = 1
        for key in keys[start:]:
            value = read_property(value, key)
        return value


class Range(Token):
    __slots__ = ("high", "low")

    MAX_ITEMS = 10_000_000  # beyond this JavaScript too runs out of render time

    def __init__(self, source: str, begin: int, end: int, low: Token, high: Token) -> None:
        super().__init__(source, begin, end)
        self.low, self.high = low, high

    def evaluate(self, ctx: Context) -> Any:
        low = to_value(self.low.evaluate(ctx))
        high = to_value(self.high.evaluate(ctx))
        ctx.use(to_number(high) - to_number(low) + 1)
        start, stop = to_number(low), to_number(high) + 1
        if not start < stop:
            return []
        if stop - start > self.MAX_ITEMS:
            raise LiquidRenderError("range too large")
        items: list[Any] = []
        value = start
        while value < stop:
            items.append(int(value) if value.is_integer() else value)
            value += 1
        return items


class Expression:
    """Operands and operators in postfix order, as liquidjs evaluates them."""

    __slots__ = ("postfix",)

    def __init__(self, tokens: list[Token]) -> None:
        postfix: list[Token] = []
        ops: list[Operator] = []
        for token in tokens:
            if isinstance(token, Operator):
                while ops and ops[-1].precedence > token.precedence:
                    postfix.append(ops.pop())
                ops.append(token)
            else:
                postfix.append(token)
        postfix.extend(reversed(ops))
        self.postfix = postfix

    def evaluate(self, ctx: Context) -> Any:
        operands: list[Any] = []
        for token in self.postfix:
            if isinstance(token, Operator):
                right = operands.pop() if operands else UNDEFINED
                if token.name == "not":
                    operands.append(is_falsy(right))
                    continue
                left = operands.pop() if operands else UNDEFINED
                operands.append(_operate(token.name, left, right))
            else:
                operands.append(token.evaluate(ctx))
        return operands[0] if operands else UNDEFINED


def _comparable(value: Any) -> bool:
    return isinstance(value, Drop) and value is not BLOCK


def _operate(name: str, left: Any, right: Any) -> Any:
    if name == "==":
        return equals(left, right)
    if name == "!=":
        return not equals(left, right)
    if name in (">", "<", ">=", "<="):
        if _comparable(left) or _comparable(right):
            return False  # nil, empty and blank are neither greater nor smaller
        compare = {">": js_gt, "<": js_lt, ">=": js_ge, "<=": js_le}[name]
        return compare(to_value(left), to_value(right))
    if name == "contains":
        left = to_value(left)
        if type(left) is list:
            return any(equals(item, right) for item in left)
        if type(left) is str:
            return to_js_string(to_primitive(to_value(right), "string")) in left
        return False
    if name == "and":
        return not is_falsy(left) and not is_falsy(right)
    return not is_falsy(left) or not is_falsy(right)  # "or"


class Filter:
    __slots__ = ("args", "func", "name")

    def __init__(self, name: str, args: list[Any]) -> None:
        self.name, self.args = name, args
        self.func = FILTERS.get(name)

    def apply(self, ctx: Context, value: Any) -> Any:
        argv = [
            [arg[0], arg[1].evaluate(ctx) if arg[1] is not None else UNDEFINED]
            if isinstance(arg, tuple)
            else arg.evaluate(ctx)
            for arg in self.args
        ]
        if self.func is None:
            return value  # unknown filters pass the value through (after their arguments)
        return self.func(ctx, value, *argv)


class FilteredValue(Token):
    __slots__ = ("expression", "filters")

    def __init__(
        self, source: str, begin: int, end: int, expression: Expression, filters: list[Filter]
    ) -> None:
        super().__init__(source, begin, end)
        self.expression, self.filters = expression, filters

    def evaluate(self, ctx: Context) -> Any:
        value = self.expression.evaluate(ctx)
        for filter_ in self.filters:
            value = filter_.apply(ctx, value)
        return value


class Scanner:
    """liquidjs's Tokenizer over input[p:n]."""

    __slots__ = ("n", "p", "raw_begin", "source")

    def __init__(self, source: str, begin: int = 0, end: int | None = None) -> None:
        self.source = source
        self.p = begin
        self.n = len(source) if end is None else end
        self.raw_begin = -1

    # Low-level reading

    def peek(self, k: int = 0) -> str:
        return "" if self.p + k >= self.n else self.source[self.p + k]

    def peek_type(self, k: int = 0) -> int:
        return 0 if self.p + k >= self.n else char_type(self.source[self.p + k])

    def at_end(self) -> bool:
        return self.p >= self.n

    def skip_blank(self) -> None:
        while self.peek_type() & BLANK:
            self.p += 1

    def match(self, word: str) -> bool:
        return self.source.startswith(word, self.p)

    def rmatch(self, word: str) -> bool:
        return self.p >= len(word) and self.source[self.p - len(word) : self.p] == word

    def read_to(self, end: str) -> int:
        while self.p < self.n:
            self.p += 1
            if self.rmatch(end):
                return self.p
        return -1

    def error(self, message: str) -> LiquidSyntaxError:
        return LiquidSyntaxError(message)

    def check(self, condition: Any, message: str) -> None:
        if not condition:
            raise self.error(message)

    def match_trie(self, trie: dict[str, Any]) -> int:
        node, i, info = trie, self.p, None
        while i < self.n and self.source[i] in node:
            node = node[self.source[i]]
            i += 1
            if "end" in node:
                info = node
        if info is None:
            return -1
        if "needBoundary" in info and is_word(self.peek(i - self.p)):
            return -1
        return i

    # Values and expressions

    def read_identifier(self) -> Constant:
        self.skip_blank()
        begin = self.p
        while not self.at_end() and is_word(self.peek()):
            self.p += 1
        return Constant(self.source, begin, self.p, self.source[begin : self.p])

    def read_tag_name(self) -> str:
        self.skip_blank()
        if self.p < len(self.source) and self.source[self.p] == "#":
            self.p += 1
            return "#"
        return self.read_identifier().content

    def read_operator(self) -> Operator | None:
        self.skip_blank()
        end = self.match_trie(_OPERATOR_TRIE)
        if end == -1:
            return None
        token = Operator(self.source, self.p, end)
        self.p = end
        return token

    def read_literal(self) -> Constant | None:
        self.skip_blank()
        end = self.match_trie(_LITERAL_TRIE)
        if end == -1:
            return None
        token = Constant(self.source, self.p, end, LITERALS[self.source[self.p : end]])
        self.p = end
        return token

    def read_quoted(self) -> Constant | None:
        self.skip_blank()
        begin = self.p
        if not self.peek_type() & QUOTE:
            return None
        self.p += 1
        escaped = False
        quote = self.source[begin]
        while self.p < self.n:
            self.p += 1
            ch = self.source[self.p - 1]
            if ch == quote and not escaped:
                break
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
        text = self.source[begin : self.p]
        return Constant(self.source, begin, self.p, parse_string_literal(text))

    def read_number(self) -> Constant | None:
        self.skip_blank()
        decimal = digit = False
        k = 1 if self.peek_type() & SIGN else 0
        while self.p + k <= self.n:
            if self.peek_type(k) & NUMBER:
                digit = True
                k += 1
            elif self.peek(k) == "." and self.peek(k + 1) != ".":
                if decimal or not digit:
                    return None
                decimal = True
                k += 1
            else:
                break
        if digit and not is_word(self.peek(k)):
            text = self.source[self.p : self.p + k]
            number = string_to_number(text)
            token = Constant(self.source, self.p, self.p + k, _js_number(number))
            self.p += k
            return token
        return None

    def read_value(self) -> Token | None:
        self.skip_blank()
        begin = self.p
        variable: Token | None = self.read_literal() or self.read_quoted() or self.read_number()
        if variable is None and self.peek() == "(":
            variable = self.read_range()
        props = self.read_properties(variable is None)
        if not props:
            return variable
        return PropertyAccess(self.source, begin, self.p, variable, props)

    def read_value_or_throw(self) -> Token:
        value = self.read_value()
        self.check(value, "unexpected token, value expected")
        assert value is not None
        return value

    def read_properties(self, is_begin: bool = True) -> list[Token]:
        props: list[Token] = []
        while True:
            if self.peek() == "[":
                self.p += 1
                prop = self.read_value() or Constant(self.source, self.p, self.p, "")
                self.check(self.read_to("]") != -1, "[ not closed")
                props.append(prop)
                continue
            if is_begin and not props:
                ident = self.read_identifier()
                if ident.content:
                    props.append(ident)
                    continue
            if self.peek() == "." and self.peek(1) != ".":
                self.p += 1
                ident = self.read_identifier()
                if not ident.content:
                    break
                props.append(ident)
                continue
            break
        return props

    def read_range(self) -> Token:
        self.skip_blank()
        begin = self.p
        self.p += 1
        low = self.read_value_or_throw()
        self.skip_blank()
        if self.peek() == "." and self.peek(1) == ".":
            self.p += 2
            high = self.read_value_or_throw()
            self.skip_blank()
            closing = self.peek()
            self.p += 1
            self.check(closing == ")", "invalid range syntax")
            return Range(self.source, begin, self.p, low, high)
        raise self.error("invalid range syntax")

    def read_expression(self) -> Expression:
        tokens: list[Token] = []
        while self.p < self.n:
            operator = self.read_operator()
            if operator is not None:
                tokens.append(operator)
                continue
            operand = self.read_value()
            if operand is not None:
                tokens.append(operand)
                continue
            break
        return Expression(tokens)

    def read_filtered_value(self) -> FilteredValue:
        begin = self.p
        expression = self.read_expression()
        self.check(expression.postfix, "invalid value expression")
        filters = self.read_filters()
        return FilteredValue(self.source, begin, self.p, expression, filters)

    def read_filters(self) -> list[Filter]:
        filters: list[Filter] = []
        while (filter_ := self.read_filter()) is not None:
            filters.append(filter_)
        return filters

    def read_filter(self) -> Filter | None:
        self.skip_blank()
        if self.at_end() or self.peek() in (")", ","):
            return None
        bar = self.peek()
        self.p += 1
        self.check(bar == "|", 'expected "|" before filter')
        name = self.read_identifier()
        if not name.content:
            self.check(self.at_end(), "expected filter name")
            return None
        args: list[Any] = []
        self.skip_blank()
        if self.peek() == ":":
            while True:
                self.p += 1
                arg = self.read_filter_arg()
                if arg is not None:
                    args.append(arg)
                self.skip_blank()
                self.check(self.at_end() or self.peek() in (",", "|", ")"), "unexpected character")
                if self.peek() != ",":
                    break
        elif not (self.at_end() or self.peek() in ("|", ")", ",")):
            raise self.error('expected ":" after filter name')
        return Filter(name.content, args)

    def read_filter_arg(self) -> Any:
        key = self.read_value()
        if key is None:
            return None
        self.skip_blank()
        if self.peek() != ":":
            return key
        self.p += 1
        return (key.text(), self.read_value())  # keyword argument: a [name, value] pair

    # Top level

    def read_to_delimiter(self, delimiter: str, respect_quoted: bool = False) -> int:
        self.skip_blank()
        while self.p < self.n:
            if respect_quoted and self.peek_type() & QUOTE:
                self.read_quoted()
                continue
            self.p += 1
            if self.rmatch(delimiter):
                return self.p
        return -1

    def read_top_level_tokens(self) -> list[Any]:
        tokens: list[Any] = []
        while self.p < self.n:
            if self.raw_begin > -1:
                tokens.append(self.read_endraw_or_raw_content())
            elif self.match("{%"):
                begin = self.p
                if self.read_to_delimiter("%}") == -1:
                    raise self.error("tag not closed")
                tag = TagToken(self.source, begin, self.p, begin + 2, self.p - 2)
                if tag.name == "raw":
                    self.raw_begin = begin
                tokens.append(tag)
            elif self.match("{{"):
                begin = self.p
                if self.read_to_delimiter("}}", respect_quoted=True) == -1:
                    raise self.error("output not closed")
                tokens.append(OutputToken(self.source, begin, self.p))
            else:
                begin = self.p
                while self.p < self.n and not (self.match("{%") or self.match("{{")):
                    self.p += 1
                tokens.append(HtmlToken(self.source, begin, self.p))
        _whitespace_control(tokens)
        return tokens

    def read_endraw_or_raw_content(self) -> Any:
        begin = self.p
        left = self.read_to("{%") - 2
        while self.p < self.n:
            if self.read_identifier().content != "endraw":
                left = self.read_to("{%") - 2
                continue
            while self.p <= self.n:
                if self.rmatch("%}"):
                    end = self.p
                    if begin == left:
                        self.raw_begin = -1
                        return TagToken(self.source, begin, end, begin + 2, end - 2)
                    self.p = left
                    return HtmlToken(self.source, begin, left)
                if self.rmatch("{%"):
                    break
                self.p += 1
        raise self.error("raw not closed")

    def read_liquid_tag_tokens(self) -> list[Any]:
        tokens: list[Any] = []
        while self.p < self.n:
            self.skip_blank()
            if self.at_end():
                break
            begin = self.p
            self.read_to_delimiter("\n")
            tokens.append(TagToken(self.source, begin, self.p, begin, self.p, liquid_line=True))
        return tokens


def _js_number(number: float) -> int | float:
    # Integral doubles print and compare like ints; keep them ints for speed.
    if number.is_integer() and abs(number) <= 2**53:
        return int(number)
    return number


class HtmlToken:
    __slots__ = ("begin", "end", "source", "trim_left", "trim_right")

    def __init__(self, source: str, begin: int, end: int) -> None:
        self.source, self.begin, self.end = source, begin, end
        self.trim_left = self.trim_right = 0

    def text(self) -> str:
        return self.source[self.begin : self.end]

    def content(self) -> str:
        return self.source[self.begin + self.trim_left : self.end - self.trim_right]


class _Delimited:
    __slots__ = ("begin", "content_end", "content_start", "end", "source", "trim_l", "trim_r")

    def _delimit(self, source: str, begin: int, end: int, start: int, stop: int) -> None:
        self.source, self.begin, self.end = source, begin, end
        self.trim_l = 0 <= start < len(source) and source[start] == "-"
        self.trim_r = 0 <= stop - 1 < len(source) and source[stop - 1] == "-"
        left = start + 1 if self.trim_l else start
        right = stop - 1 if self.trim_r else stop
        while left < right and char_type(source[left]) & BLANK:
            left += 1
        while right > left and char_type(source[right - 1]) & BLANK:
            right -= 1
        self.content_start, self.content_end = left, right

    def text(self) -> str:
        return self.source[self.begin : self.end]


class TagToken(_Delimited):
    __slots__ = ("args", "name", "scanner")

    def __init__(
        self, source: str, begin: int, end: int, start: int, stop: int, liquid_line: bool = False
    ) -> None:
        self._delimit(source, begin, end, start, stop)
        self.scanner = Scanner(source, self.content_start, self.content_end)
        self.name = self.scanner.read_tag_name()
        if not self.name:
            raise LiquidSyntaxError("illegal tag syntax, tag name expected")
        self.scanner.skip_blank()
        self.args = source[self.scanner.p : self.content_end]


class OutputToken(_Delimited):
    __slots__ = ()

    def __init__(self, source: str, begin: int, end: int) -> None:
        self._delimit(source, begin, end, begin + 2, end - 2)


def _whitespace_control(tokens: list[Any]) -> None:
    in_raw = False
    for i, token in enumerate(tokens):
        if not isinstance(token, _Delimited):
            continue
        if not in_raw and token.trim_l and i > 0 and isinstance(tokens[i - 1], HtmlToken):
            html = tokens[i - 1]
            while (
                html.end - 1 - html.trim_right >= 0
                and char_type(html.source[html.end - 1 - html.trim_right]) & BLANK
            ):
                html.trim_right += 1
        if isinstance(token, TagToken):
            if token.name == "raw":
                in_raw = True
            elif token.name == "endraw":
                in_raw = False
        if not in_raw and token.trim_r and i + 1 < len(tokens):
            html = tokens[i + 1]
            if isinstance(html, HtmlToken):
                source = html.source
                while (
                    html.begin + html.trim_left < len(source)
                    and char_type(source[html.begin + html.trim_left]) & BLANK
                ):
                    html.trim_left += 1


# Templates (parsed nodes)


class Node:
    __slots__ = ()

    def render(self, ctx: Context, out: list[str]) -> None:
        raise NotImplementedError


class Html(Node):
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, ctx: Context, out: list[str]) -> None:
        out.append(self.text)


class Output(Node):
    __slots__ = ("value",)

    def __init__(self, value: FilteredValue) -> None:
        self.value = value

    def render(self, ctx: Context, out: list[str]) -> None:
        out.append(stringify(self.value.evaluate(ctx)))


class Echo(Output):
    __slots__ = ()


class Nothing(Node):
    __slots__ = ()

    def render(self, ctx: Context, out: list[str]) -> None:
        return None


class Assign(Node):
    __slots__ = ("name", "value")

    def __init__(self, name: str, value: FilteredValue) -> None:
        self.name, self.value = name, value

    def render(self, ctx: Context, out: list[str]) -> None:
        ctx.scopes[0][self.name] = self.value.evaluate(ctx)


class Capture(Node):
    __slots__ = ("body", "name")

    def __init__(self, name: str, body: list[Node]) -> None:
        self.name, self.body = name, body

    def render(self, ctx: Context, out: list[str]) -> None:
        inner: list[str] = []
        ctx.render_nodes(self.body, inner)
        ctx.scopes[0][self.name] = "".join(inner)


class Conditional(Node):
    """`if` and `unless`: the first branch whose test passes renders, else the else branch."""

    __slots__ = ("branches", "otherwise")

    def __init__(self, branches: list[tuple[FilteredValue, bool, list[Node]]]) -> None:
        self.branches = branches
        self.otherwise: list[Node] = []

    def render(self, ctx: Context, out: list[str]) -> None:
        for value, want_truthy, body in self.branches:
            if is_falsy(value.evaluate(ctx)) is not want_truthy:
                ctx.render_nodes(body, out)
                return
        ctx.render_nodes(self.otherwise, out)


class Counter(Node):
    """`increment` / `decrement`: counters live in the environment, apart from assigns."""

    __slots__ = ("name", "step")

    def __init__(self, name: str, step: int) -> None:
        self.name, self.step = name, step

    def render(self, ctx: Context, out: list[str]) -> None:
        current = ctx.environment_value(self.name)
        if not is_number(current):
            current = 0
        elif type(current) is int and abs(current) > 2**53:
            current = float(current)  # a JavaScript number
        ctx.counters[self.name] = current + self.step
        out.append(stringify(current if self.step > 0 else current + self.step))


class Cycle(Node):
    __slots__ = ("candidates", "fingerprint", "group")

    def __init__(self, group: Token | None, candidates: list[FilteredValue]) -> None:
        self.group, self.candidates = group, candidates
        self.fingerprint = ",".join(c.text() for c in candidates)

    def render(self, ctx: Context, out: list[str]) -> None:
        group = self.group.evaluate(ctx) if self.group is not None else UNDEFINED
        key = f"cycle:{to_js_string(to_primitive(group, 'string'))}:{self.fingerprint}"
        index = ctx.cycles.get(key, 0)
        ctx.cycles[key] = (index + 1) % len(self.candidates)
        value = to_value(self.candidates[index].evaluate(ctx))
        if truthy(value):  # liquidjs writes what a tag returns only when truthy
            out.append(stringify(value))


class Raw(Node):
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, ctx: Context, out: list[str]) -> None:
        out.append(self.text)


class Stop(Node):
    """`break` / `continue`: with `for` disabled they stop everything that follows."""

    __slots__ = ()

    def render(self, ctx: Context, out: list[str]) -> None:
        ctx.stopped = True


class Block(Node):
    __slots__ = ("body",)

    def __init__(self, body: list[Node]) -> None:
        self.body = body

    def render(self, ctx: Context, out: list[str]) -> None:
        ctx.scopes.append({"block": BLOCK})
        try:
            ctx.render_nodes(self.body, out)
        finally:
            ctx.scopes.pop()


class Group(Node):
    __slots__ = ("body",)

    def __init__(self, body: list[Node]) -> None:
        self.body = body

    def render(self, ctx: Context, out: list[str]) -> None:
        ctx.render_nodes(self.body, out)


# Parsing


class Parser:
    def __init__(self, disabled_tags: tuple[str, ...]) -> None:
        self.disabled = set(disabled_tags)

    def parse(self, source: str) -> list[Node]:
        tokens = Scanner(source).read_top_level_tokens()
        tokens.reverse()  # consumed from the end with pop()
        return self.parse_all(tokens)

    def parse_all(self, tokens: list[Any]) -> list[Node]:
        nodes: list[Node] = []
        while tokens:
            nodes.append(self.parse_token(tokens.pop(), tokens))
        return nodes

    def parse_token(self, token: Any, rest: list[Any]) -> Node:
        if isinstance(token, HtmlToken):
            return Html(token.content())
        if isinstance(token, OutputToken):
            scanner = Scanner(token.source, token.content_start, token.content_end)
            return Output(scanner.read_filtered_value())
        name = token.name
        if name in self.disabled:
            raise LiquidSyntaxError(f'tag "{name}" is disabled')
        parse = _TAG_PARSERS.get(name)
        if parse is None:
            raise LiquidSyntaxError(f'tag "{name}" not found')
        return parse(self, token, rest)


# Tags whose tokens an enclosing tag may claim; on_tag returns None to parse them normally.
_BLOCK_TAGS = {"elsif", "else", "endif", "endunless"}


def _parse_if(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    node = Conditional([])
    body: list[Node] = []
    node.branches.append((token.scanner.read_filtered_value(), True, body))
    state = {"else": False}

    def on_tag(tag: TagToken) -> bool | None:
        nonlocal body
        if tag.name == "elsif":
            if state["else"]:
                raise LiquidSyntaxError("unexpected elsif after else")
            body = []
            node.branches.append((tag.scanner.read_filtered_value(), True, body))
            return False
        if tag.name == "else":
            _assert_empty(tag)
            if state["else"]:
                raise LiquidSyntaxError("duplicated else")
            state["else"] = True
            body = node.otherwise
            return False
        if tag.name == "endif":
            _assert_empty(tag)
            return True
        return None

    _parse_branches(parser, rest, on_tag, token, lambda: body)
    return node


def _parse_branches(
    parser: Parser,
    rest: list[Any],
    on_tag: Callable[[Any], bool | None],
    opener: TagToken,
    target: Callable[[], list[Node] | None],
) -> None:
    while rest:
        tok = rest.pop()
        if isinstance(tok, TagToken) and tok.name in _BLOCK_TAGS:
            handled = on_tag(tok)
            if handled is True:
                return
            if handled is False:
                continue
        node = parser.parse_token(tok, rest)
        body = target()
        if body is not None:
            body.append(node)
    raise LiquidSyntaxError(f"tag {opener.text()} not closed")


def _parse_unless(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    node = Conditional([])
    body: list[Node] | None = []
    node.branches.append((token.scanner.read_filtered_value(), False, body))
    else_count = 0

    def on_tag(tag: TagToken) -> bool | None:
        nonlocal body, else_count
        if tag.name == "elsif":
            if else_count > 0:
                body = None  # liquidjs drops branches after an else
                return False
            body = []
            node.branches.append((tag.scanner.read_filtered_value(), True, body))
            return False
        if tag.name == "else":
            else_count += 1
            body = node.otherwise if else_count == 1 else None
            return False
        if tag.name == "endunless":
            return True
        return None

    _parse_branches(parser, rest, on_tag, token, lambda: body)
    return node


def _assert_empty(tag: TagToken) -> None:
    if tag.args:
        raise LiquidSyntaxError(f"unexpected {tag.args!r}")


def _parse_assign(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    scanner = token.scanner
    name = scanner.read_identifier().content
    scanner.check(name, "expected variable name")
    scanner.skip_blank()
    scanner.check(scanner.peek() == "=", 'expected "="')
    scanner.p += 1
    return Assign(name, scanner.read_filtered_value())


def _parse_capture(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    scanner = token.scanner
    ident = scanner.read_identifier()
    name: Any = ident.content
    if not name:
        quoted = scanner.read_quoted()
        if quoted is None:
            raise LiquidSyntaxError("invalid capture name")
        name = quoted.content
    body: list[Node] = []
    while rest:
        tok = rest.pop()
        if isinstance(tok, TagToken) and tok.name == "endcapture":
            return Capture(name, body)
        body.append(parser.parse_token(tok, rest))
    raise LiquidSyntaxError(f"tag {token.text()} not closed")


def _parse_block(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    body: list[Node] = []
    while rest:
        tok = rest.pop()
        if isinstance(tok, TagToken) and tok.name == "endblock":
            return Block(body)
        body.append(parser.parse_token(tok, rest))
    raise LiquidSyntaxError(f"tag {token.text()} not closed")


def _parse_comment(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    while rest:
        tok = rest.pop()
        if isinstance(tok, TagToken) and tok.name == "endcomment":
            return Nothing()
    raise LiquidSyntaxError(f"tag {token.text()} not closed")


def _parse_raw(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    parts: list[str] = []
    while rest:
        tok = rest.pop()
        if isinstance(tok, TagToken) and tok.name == "endraw":
            return Raw("".join(parts))
        parts.append(tok.text())
    raise LiquidSyntaxError(f"tag {token.text()} not closed")


def _parse_counter(step: int) -> Callable[[Parser, TagToken, list[Any]], Node]:
    def parse(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
        return Counter(token.scanner.read_identifier().content, step)

    return parse


def _parse_cycle(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    scanner = token.scanner
    begin = scanner.p
    group = scanner.read_value()
    scanner.skip_blank()
    if group is not None and scanner.peek() == ":":
        scanner.p += 1
    else:
        group = None
        scanner.p = begin
    candidates: list[FilteredValue] = []
    while not scanner.at_end():
        candidates.append(scanner.read_filtered_value())
        scanner.read_to(",")
    scanner.check(candidates, "empty candidates")
    return Cycle(group, candidates)


def _parse_echo(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    scanner = token.scanner
    scanner.skip_blank()
    if scanner.at_end():
        return Nothing()
    return Echo(scanner.read_filtered_value())


def _parse_liquid(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    tokens = token.scanner.read_liquid_tag_tokens()
    tokens.reverse()
    return Group(parser.parse_all(tokens))


def _parse_inline_comment(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    lines = token.args.split("\n")[1:]
    if any(line.lstrip(_JS_SPACE)[:1] not in ("", "#") for line in lines):
        raise LiquidSyntaxError("every line of an inline comment must start with a '#' character")
    return Nothing()


_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
_JS_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def _parse_stop(parser: Parser, token: TagToken, rest: list[Any]) -> Node:
    return Stop()


_TAG_PARSERS: dict[str, Callable[[Parser, TagToken, list[Any]], Node]] = {
    "assign": _parse_assign,
    "capture": _parse_capture,
    "comment": _parse_comment,
    "decrement": _parse_counter(-1),
    "increment": _parse_counter(1),
    "cycle": _parse_cycle,
    "if": _parse_if,
    "block": _parse_block,
    "raw": _parse_raw,
    "unless": _parse_unless,
    "break": _parse_stop,
    "continue": _parse_stop,
    "echo": _parse_echo,
    "liquid": _parse_liquid,
    "#": _parse_inline_comment,
}


# Rendering


class Context:
    """One render: the event, assigned variables, counters and liquidjs's limits."""

    __slots__ = (
        "counters",
        "cycles",
        "deadline",
        "environment",
        "memory",
        "memory_limit",
        "scopes",
        "stopped",
    )

    def __init__(
        self, environment: dict[str, Any], render_limit: float, memory_limit: float
    ) -> None:
        self.environment = environment
        self.scopes: list[dict[str, Any]] = [{}]
        self.counters: dict[str, Any] = {}
        self.cycles: dict[str, int] = {}
        self.memory = 0.0
        self.memory_limit = memory_limit
        self.deadline = time.monotonic() + render_limit
        self.stopped = False

    def use(self, count: Any) -> None:
        """Charge liquidjs's memory limit."""
        amount = count if is_number(count) else to_number(count)
        if amount > 0:
            if self.memory + amount > self.memory_limit:
                raise LiquidMemoryLimitError("memory alloc limit exceeded")
            self.memory += amount

    def environment_value(self, name: str) -> Any:
        if name in self.counters:
            return self.counters[name]
        return self.environment.get(name, UNDEFINED)

    def lookup(self, key: Any) -> Any:
        name = property_key(key)
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.counters:
            return self.counters[name]
        if name in self.environment:
            return self.environment[name]
        # liquidjs falls back to its (empty) globals object, whose size is 0.
        return 0 if key == "size" else UNDEFINED

    def spawn(self, item: Any) -> ItemContext:
        return ItemContext(self, item)

    def scope_value(self, text: str) -> Token | None:
        """liquidjs's readScopeValue(): the property path a `where` filter reads."""
        if text not in _SCOPE_CACHE:
            scanner = Scanner(text)
            scanner.skip_blank()
            props = scanner.read_properties()
            _SCOPE_CACHE[text] = PropertyAccess(text, 0, scanner.p, None, props) if props else None
            if len(_SCOPE_CACHE) > 1000:
                _SCOPE_CACHE.clear()
        return _SCOPE_CACHE[text]

    def render_nodes(self, nodes: list[Node], out: list[str]) -> None:
        self.check_time()
        for node in nodes:
            self.check_time()
            node.render(self, out)
            if self.stopped:
                break

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise LiquidRenderError("template render limit exceeded")


_SCOPE_CACHE: dict[str, Token | None] = {}


class ItemContext:
    """liquidjs's context.spawn(item): the item is the environment, limits are shared."""

    __slots__ = ("item", "parent")

    def __init__(self, parent: Context, item: Any) -> None:
        self.parent, self.item = parent, item

    def use(self, count: Any) -> None:
        self.parent.use(count)

    def lookup(self, key: Any) -> Any:
        if has_own(self.item, key):
            return read_property(self.item, key)
        return 0 if key == "size" else UNDEFINED


class Template:
    __slots__ = ("memory_limit", "nodes", "render_limit")

    def __init__(self, nodes: list[Node], render_limit: float, memory_limit: float) -> None:
        self.nodes, self.render_limit, self.memory_limit = nodes, render_limit, memory_limit

    def render(self, environment: dict[str, Any]) -> str:
        ctx = Context(environment, self.render_limit, self.memory_limit)
        out: list[str] = []
        try:
            ctx.render_nodes(self.nodes, out)
        except (LiquidFilterError, LiquidMemoryLimitError, LiquidSyntaxError) as error:
            raise LiquidRenderError(str(error)) from error
        except RecursionError as error:
            raise LiquidRenderError("too deeply nested") from error
        return recombine("".join(out))


def compile_template(
    source: str, disabled_tags: tuple[str, ...], render_limit: float, memory_limit: float
) -> Template:
    try:
        nodes = Parser(disabled_tags).parse(source)
    except RecursionError as error:
        raise LiquidSyntaxError("too deeply nested") from error
    return Template(nodes, render_limit, memory_limit)


__all__ = [
    "Template",
    "compile_template",
    "is_nil",
]
