"""Warnings for triggers Segment's own code accepts but that are surely not meant.

Not errors: `@segment/destination-subscriptions` parses them, so a config that has
them keeps working as it does on Segment. Each warning says what to write instead.
"""

from __future__ import annotations

from kameleoon_relay.fql.errors import FQLSyntaxError
from kameleoon_relay.fql.lexer import Token, tokenize

_COMPARISONS = frozenset({"=", "!="})
_BARE_LITERALS = frozenset({"true", "false", "null"})


def trigger_warnings(text: str) -> list[str]:
    """What looks wrong in a trigger that compiles; [] for one that does not lex."""
    try:
        tokens = [token for token in tokenize(text) if token.kind != "eos"]
    except FQLSyntaxError:
        return []  # the compile error says it
    warnings: list[str] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        after = tokens[index + 2] if index + 2 < len(tokens) else None
        if token.kind != "operator" or following is None:
            continue
        if token.value in _COMPARISONS and following.kind == "operator" and following.value == "=":
            field = _field_before(tokens, index)
            warnings.append(
                f"`{field} {token.value}=` never matches (FQL compares with one `=`): "
                f"write `{field} {token.value} ...`"
            )
        elif (
            token.value in _COMPARISONS
            and following.kind == "ident"
            and following.value not in _BARE_LITERALS
            and (after is None or after.kind != "dot")
        ):
            field = _field_before(tokens, index)
            warnings.append(
                f"unquoted value `{following.value}`: quote it, "
                f'`{field} {token.value} "{following.value}"`, as Segment\'s editor writes it'
            )
    if tokens and tokens[-1].kind == "conditional":
        warnings.append(
            f"the trigger ends with `{tokens[-1].value}`: the condition after it is missing "
            "(Segment ignores it; remove it or complete the condition)"
        )
    return warnings


def _field_before(tokens: list[Token], index: int) -> str:
    """The dotted field left of the operator at `index`, as written."""
    parts: list[str] = []
    position = index - 1
    while position >= 0 and tokens[position].kind in ("ident", "dot"):
        parts.append(tokens[position].value)
        position -= 1
    return "".join(reversed(parts)) or "field"
