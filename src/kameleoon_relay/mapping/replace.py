"""`@replace`'s text replacement: a literal pattern run as a JavaScript RegExp.

The reference escapes every regex metacharacter, so the pattern always matches
literally; what stays JavaScript-specific is the `i` flag's case folding
(non-unicode Canonicalize) and the `$` forms of the replacement string.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from kameleoon_relay.js.strings import utf16_length

# A replacement compiled to pieces: literal text, or a callable of (text, start, end).
Piece = str | Callable[[str, int, int], str]


@lru_cache(maxsize=65536)
def _canonical_char(ch: str) -> str:
    # Astral code points are two surrogates to JavaScript, which never change case.
    if ord(ch) > 0xFFFF:
        return ch
    upper = ch.upper()
    if len(upper) != 1 or (ord(ch) >= 128 and ord(upper) < 128):
        return ch
    return upper


def _canonical(text: str) -> str:
    if text.isascii():
        return text.upper()
    return "".join(map(_canonical_char, text))


@lru_cache(maxsize=1024)
def _pieces(replacement: str) -> tuple[Piece, ...]:
    """GetSubstitution with no capture groups: only $$, $&, $` and $' are special."""
    pieces: list[Piece] = []
    literal: list[str] = []
    i = 0
    while i < len(replacement):
        ch = replacement[i]
        nxt = replacement[i + 1] if i + 1 < len(replacement) else ""
        special: Piece | None = None
        if ch == "$" and nxt == "$":
            literal.append("$")
            i += 2
            continue
        if ch == "$" and nxt == "&":
            special = _matched
        elif ch == "$" and nxt == "`":
            special = _before
        elif ch == "$" and nxt == "'":
            special = _after
        if special is None:
            literal.append(ch)
            i += 1
            continue
        if literal:
            pieces.append("".join(literal))
            literal = []
        pieces.append(special)
        i += 2
    if literal:
        pieces.append("".join(literal))
    return tuple(pieces)


def _matched(text: str, start: int, end: int) -> str:
    return text[start:end]


def _before(text: str, start: int, end: int) -> str:
    return text[:start]


def _after(text: str, start: int, end: int) -> str:
    return text[end:]


def check_lengths(pattern: str, replacement: str) -> str | None:
    """The reference's runtime length limits; the error message, or None."""
    if utf16_length(pattern) > 10:
        return '@replace requires a "pattern" less than 10 characters'
    if utf16_length(replacement) > 10:
        return '@replace requires a "replacement" less than 10 characters'
    return None


def replace_literal(
    text: str, pattern: str, replacement: str, *, every: bool, ignore_case: bool
) -> str:
    """`text.replace(new RegExp(escaped(pattern), flags), replacement)`."""
    haystack = _canonical(text) if ignore_case else text
    needle = _canonical(pattern) if ignore_case else pattern
    pieces = _pieces(replacement)
    out: list[str] = []
    position = 0
    while True:
        start = haystack.find(needle, position)
        if start < 0:
            break
        end = start + len(needle)
        out.append(text[position:start])
        out.extend(p if isinstance(p, str) else p(text, start, end) for p in pieces)
        position = end
        if not every:
            break
    out.append(text[position:])
    return "".join(out)
