"""Split a trigger into tokens the way ``@segment/fql-ts`` does.

The reference lexer has rules a textbook lexer would not, and a trigger means
what they say, so they are reproduced here:
- ``and``, ``or``, ``null``, ``!=``, ``<=``, ``>=`` count only when followed by a
  space, tab, newline, ``,``, ``]``, ``)`` or the end (``a!="x"`` is an error);
- an identifier may hold any character escaped with ``\\`` and must be followed
  by a terminator or one of ``. ( = !``;
- strings have no escapes: a string ends at the next matching quote, and that
  quote is consumed only when a terminator follows it, else it opens the next
  string;
- a number is a sign or digit followed by digits and dots (``-`` alone is one);
- looking ahead for ``and``/``or``/``null`` at the very end of the text drops
  the characters it read (``an`` at the end lexes as ``a``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from kameleoon_relay.fql.errors import FQLSyntaxError
from kameleoon_relay.js.strings import utf16_length

# The reference's guards against runaway tokens (counted in UTF-16 units).
_MAX_LENGTH: Final = 100_000

_WHITESPACE: Final = frozenset(" \t\n")
_TERMINATORS: Final = frozenset(" \t\n,])")
_AFTER_IDENT: Final = _TERMINATORS | frozenset(".(=!")
_LETTERS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS: Final = frozenset("0123456789")
_IDENT_CHARS: Final = _LETTERS | _DIGITS | frozenset("_-\\")
_PUNCTUATION: Final = {
    ".": "dot",
    "[": "brackleft",
    "]": "brackright",
    ",": "comma",
    "(": "parenleft",
    ")": "parenright",
}


@dataclass(frozen=True, slots=True)
class Token:
    """One lexed token; ``kind`` and ``value`` are the reference's ``type`` and ``value``."""

    kind: str
    value: str
    position: int


def _is_terminator(char: str | None) -> bool:
    return char is None or char in _TERMINATORS


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def next(self) -> str | None:
        if self.pos == len(self.text):
            return None
        char = self.text[self.pos]
        self.pos += 1
        return char

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def error(self, message: str, position: int | None = None) -> FQLSyntaxError:
        return FQLSyntaxError(message, self.pos if position is None else position)

    def accept(self, word: str) -> bool:
        """Consume ``word`` if it is followed by a terminator, else rewind.

        As in the reference, reaching the end of the text returns False
        without rewinding.
        """
        read = ""
        for _ in word:
            char = self.next()
            if char is None:
                return False
            read += char
            if char in _TERMINATORS:
                break
        if read == word and _is_terminator(self.peek()):
            return True
        self.pos -= len(read)
        return False

    def tokens(self) -> list[Token]:
        tokens: list[Token] = []
        while True:
            start = self.pos
            char = self.next()
            if char is None:
                tokens.append(Token("eos", "eos", start))
                return tokens
            if char in _WHITESPACE:
                continue
            following = self.peek()
            if (
                char == "!"
                and following is not None
                and (following in _LETTERS or following == "(")
            ):
                tokens.append(Token("operator", "!", start))
            elif char in _LETTERS or char in "!=<>\\_":
                kind, value = self.operator_or_word(char, start)
                tokens.append(Token(kind, value, start))
            elif char in _DIGITS or char in "-+":
                tokens.append(Token("number", char + self.number(), start))
            elif char in "\"'":
                tokens.append(Token("string", self.string(char, start), start))
            elif char in _PUNCTUATION:
                tokens.append(Token(_PUNCTUATION[char], char, start))
            else:
                raise self.error(f"invalid character {char!r}", start)

    def operator_or_word(self, first: str, start: int) -> tuple[str, str]:
        if first == "=":
            return "operator", "="
        if first == "!":
            if self.accept("="):
                return "operator", "!="
            raise self.error("expected '=' after '!'", start)
        if first in "<>":
            return "operator", first + "=" if self.accept("=") else first
        keyword = {"a": ("nd", "conditional", "and"), "o": ("r", "conditional", "or")}.get(first)
        if first == "n":
            keyword = ("ull", "null", "null")
        if keyword and self.accept(keyword[0]):
            return keyword[1], keyword[2]
        return "ident", self.identifier(first)

    def identifier(self, first: str) -> str:
        chars: list[str] = []
        char: str | None = first
        while True:
            if char == "\\":
                if self.peek() is None:
                    raise self.error("expected a character after '\\'")
                char = self.next()
                assert char is not None
                if char > "\uffff":
                    # JavaScript escapes only the first UTF-16 unit; the second
                    # one then cannot end the identifier.
                    raise self.error("expected termination character after identifier")
            chars.append(char)
            if len(chars) >= _MAX_LENGTH:  # escaped astral characters fail above
                raise self.error("unreasonable identifier length")
            if self.peek() not in _IDENT_CHARS:
                break
            char = self.next()
        following = self.peek()
        if following is not None and following not in _AFTER_IDENT:
            raise self.error(f"unexpected character {following!r} after identifier")
        return "".join(chars)

    def number(self) -> str:
        start = self.pos
        decimal = False
        upcoming = self.peek()
        while upcoming is not None and (upcoming in _DIGITS or upcoming == "."):
            self.pos += 1
            if upcoming == ".":
                if _is_terminator(self.peek()):
                    raise self.error("unexpected terminator after decimal point", self.pos - 1)
                if decimal:
                    raise self.error("multiple decimal points in one number", self.pos - 1)
                decimal = True
            if self.pos - start >= _MAX_LENGTH:
                raise self.error("unreasonable number length")
            upcoming = self.peek()
        return self.text[start : self.pos]

    def string(self, quote: str, start: int) -> str:
        end = self.text.find(quote, self.pos)
        if end < 0:
            raise self.error("unterminated string", start)
        body = self.text[self.pos : end]
        if utf16_length(body) >= _MAX_LENGTH:
            raise self.error("unreasonable string length", start)
        # The closing quote is consumed only when a terminator follows it;
        # otherwise it stays and opens the next string (`"a"b"` is "a" then "b").
        self.pos = end + 1 if _is_terminator(self.text[end + 1 : end + 2] or None) else end
        return quote + body + quote


def tokenize(text: str) -> list[Token]:
    """Lex ``text``; the list always ends with an ``eos`` token.

    Raises FQLSyntaxError where the reference lexer fails.
    """
    return _Lexer(text).tokens()
