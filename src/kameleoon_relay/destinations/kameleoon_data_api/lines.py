"""The Data API's tracking lines, written exactly as Kameleoon's Python SDK writes them.

Each line is a query string: `nonce=…&eventType=…&…&visitorCode=…`. Values are
percent-encoded as the SDK's `encode_uri` does (`urllib.parse.quote` keeping
`~()*!.'`); empty values are left out, as its QueryBuilder leaves them out. The
nonce is ours: derived from the destination, subscription, messageId and the
line's index, so a retry repeats it and Kameleoon can recognise the event.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import quote

NONCE_LENGTH = 16  # characters from 0-9A-F, as Kameleoon checks them
MAX_VISITOR_CODE = 100
_SAFE = "~()*!.'"
# What quote() leaves as it is (its always-safe set plus _SAFE): most values, checked in
# a fraction of quote's time.
_UNCHANGED = re.compile(r"[A-Za-z0-9_.\-~()*!']*")
# A value json.dumps writes as it is between quotes (printable ASCII but " and \).
_JSON_PLAIN = re.compile(r"[ !#-\[\]-~]*")


def encode_uri(text: str) -> str:
    if _UNCHANGED.fullmatch(text):
        return text
    return quote(text, safe=_SAFE)


def nonce(scope: str, message_id: str, index: int) -> str:
    """16 upper-case hex characters, the same for the same line of the same event."""
    seed = f"{scope}\x00{message_id}\x00{index}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(seed, digest_size=NONCE_LENGTH // 2).hexdigest().upper()


def revenue_text(revenue: float) -> str:
    """As the SDK writes `float(revenue)`: 10 becomes `10.0`, 1e20 `1e+20`."""
    return str(float(revenue))


def conversion_line(nonce_: str, goal_id: int, revenue: float) -> str:
    return (
        f"nonce={nonce_}&eventType=conversion&goalId={encode_uri(str(goal_id))}"
        f"&revenue={encode_uri(revenue_text(revenue))}&negative=false"
    )


def custom_data_line(nonce_: str, index: int, values: tuple[str, ...]) -> str:
    # The SDK's json.dumps escapes non-ASCII (\u00e9) before percent-encoding.
    if len(values) == 1 and _JSON_PLAIN.fullmatch(values[0]):
        counts = f'{{"{values[0]}":1}}'  # what json.dumps writes, without its machinery
    else:
        counts = json.dumps(dict.fromkeys(values, 1), separators=(",", ":"))
    return (
        f"nonce={nonce_}&eventType=customData&index={index}"
        f"&valuesCountMap={encode_uri(counts)}&overwrite=true"
    )


def page_line(nonce_: str, href: str, title: str | None) -> str:
    """The SDK writes no line for a page without a URL: "" here too."""
    if not href:
        return ""
    line = f"nonce={nonce_}&eventType=page&href={encode_uri(href)}"
    if title:
        line += f"&title={encode_uri(title)}"
    return line


def visitor_suffix(visitor_code: str, user_agent: str | None) -> str:
    """What the SDK appends to a line: whose it is, and the user agent on a visitor's
    first line when it knows one."""
    suffix = f"&visitorCode={encode_uri(visitor_code)}"
    if user_agent:
        suffix += f"&userAgent={encode_uri(user_agent)}"
    return suffix
