"""liquidjs's filters, with its argument handling and memory accounting.

Each filter takes the render context (for liquidjs's memory limit), the input
value and the evaluated arguments, exactly as many as the template passed:
liquidjs applies JavaScript default parameters to missing and undefined ones,
and some filters count their arguments. A keyword argument (`allow_false: true`)
arrives as a two-item list, as in liquidjs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import re
import unicodedata
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote

from kameleoon_relay.js.members import js_length
from kameleoon_relay.js.objects import js_key_order
from kameleoon_relay.js.operators import (
    js_add,
    js_ge,
    js_le,
    js_lt,
    to_integer,
    to_number,
    to_primitive,
)
from kameleoon_relay.js.strings import JS_WHITESPACE, to_js_string, utf16_length, utf16_units
from kameleoon_relay.js.values import UNDEFINED, ProtoObject, is_number, truthy
from kameleoon_relay.mapping.liquid import dates as liquid_dates
from kameleoon_relay.mapping.liquid.errors import LiquidFilterError
from kameleoon_relay.mapping.liquid.values import (
    Drop,
    equals,
    is_array_like,
    is_falsy,
    is_nil,
    liquid_number,
    read_index,
    read_property,
    stringify,
    to_array,
    to_value,
)

DISABLED_FILTERS = (
    "array_to_sentence_string",
    "concat",
    "find",
    "find_exp",
    "find_index",
    "find_index_exp",
    "group_by",
    "group_by_exp",
    "has",
    "has_exp",
    "map",
    "newline_to_br",
    "reject",
    "reject_exp",
    "reverse",
    "sort",
    "sort_natural",
    "uniq",
    "where_exp",
    "type",
)


class Ctx(Protocol):
    def use(self, count: Any) -> None: ...


def _arg(args: tuple[Any, ...], index: int, default: Any = UNDEFINED) -> Any:
    """A JavaScript parameter: missing or undefined takes the default."""
    if index < len(args) and args[index] is not UNDEFINED:
        return args[index]
    return default


def _recombine(text: str) -> str:
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _code_points_end(text: str, start_units: int, count: Any) -> int:
    """advanceCodePoints: the UTF-16 index `count` code points after `start_units`."""
    units = _units(text)
    index, i = start_units, 0
    while js_lt(i, count) and index < len(units):
        index += 2 if "\ud800" <= units[index] <= "\udbff" and _pair_at(units, index) else 1
        i += 1
    return index


def _pair_at(units: list[str], index: int) -> bool:
    return index + 1 < len(units) and "\udc00" <= units[index + 1] <= "\udfff"


def _units(text: str) -> list[str]:
    return list(text) if text.isascii() else utf16_units(text)


def _code_point_length(text: str) -> int:
    return len(_recombine(text))


def _unit_slice(text: str, start: int, end: int | None = None) -> str:
    if text.isascii():
        return text[start:end]
    return _recombine("".join(utf16_units(text)[start:end]))


# html


_ESCAPE = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}
_ESCAPE_RE = re.compile("[&<>\"']")
_UNESCAPE = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&#34;": '"', "&#39;": "'"}
_UNESCAPE_RE = re.compile("&(amp|lt|gt|#34|#39);")


def f_escape(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    return _ESCAPE_RE.sub(lambda m: _ESCAPE[m[0]], text)


def f_escape_once(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    return f_escape(ctx, _UNESCAPE_RE.sub(lambda m: _UNESCAPE[m[0]], text))


_HTML_BLOCKS = (("<script", "</script>"), ("<style", "</style>"), ("<!--", "-->"), ("<", ">"))


def f_strip_html(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    openers = dict(_HTML_BLOCKS)
    out: list[str] = []
    i = 0
    while i < len(text):
        lt = text.find("<", i)
        if lt < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:lt])
        for opener, closer in list(openers.items()):
            if not text.startswith(opener, lt):
                continue
            end = text.find(closer, lt + len(opener))
            if end >= 0:
                i = end + len(closer)
                break
            del openers[opener]  # never closed: stop looking for it
        if i <= lt:
            out.append(text[lt:])
            return "".join(out)
    return "".join(out)


# math


def _math(op: Callable[..., float]) -> Callable[..., Any]:
    def apply(ctx: Ctx, value: Any, *args: Any) -> Any:
        return op(*(liquid_number(v) for v in (value, *args)))

    return apply


def _js_round(x: float) -> float:
    if not math.isfinite(x):
        return x
    floor = math.floor(x)
    return float(floor + 1 if x - floor >= 0.5 else floor)


def _js_floor(x: float, *rest: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


def _js_ceil(x: float, *rest: float) -> float:
    return float(math.ceil(x)) if math.isfinite(x) else x


def _divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or a != a:
            return math.nan
        return math.inf if (a > 0) == (math.copysign(1, b) > 0) else -math.inf
    return a / b


def _fmod(a: float, b: float) -> float:
    if b == 0 or math.isinf(a) or a != a or b != b:
        return math.nan
    return math.fmod(a, b)


def _divided_by(a: float, b: float = math.nan, integer: float = 0.0, *rest: float) -> float:
    quotient = _divide(a, b)
    return _js_floor(quotient) if integer else quotient


def _modulo(a: float, b: float = math.nan, *rest: float) -> float:
    return _fmod(_fmod(a, b) + b, b)


def _max(*values: float) -> float:
    return math.nan if any(v != v for v in values) else max(values)


def _min(*values: float) -> float:
    return math.nan if any(v != v for v in values) else min(values)


def _shift_decimal(number: float, exponent: float) -> float:
    mantissa, _, power = to_js_string(number).partition("e")
    return to_number(f"{mantissa}e{to_js_string(to_number(power or '0') + exponent)}")


def f_round(ctx: Ctx, value: Any, digits: Any = 0, *args: Any) -> Any:
    number = liquid_number(value)
    places = liquid_number(0 if digits is UNDEFINED else digits)
    scaled = _shift_decimal(abs(number), places)
    if not scaled <= 2**53 - 1:
        return number
    rounded = _shift_decimal(_js_round(scaled), -places)
    return -rounded if number < 0 else rounded


# url


_URI_COMPONENT_SAFE = "-_.!~*'()"
_URI_SAFE = _URI_COMPONENT_SAFE + ";,/?:@&=+$#"


def _encode_uri(text: str, safe: str) -> str:
    try:
        data = _recombine(text).encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate: URIError
        raise LiquidFilterError("URI malformed") from error
    return quote(data, safe=safe)


def f_url_encode(ctx: Ctx, value: Any, *args: Any) -> str:
    return _encode_uri(stringify(value), _URI_COMPONENT_SAFE).replace("%20", "+")


def f_cgi_escape(ctx: Ctx, value: Any, *args: Any) -> str:
    encoded = _encode_uri(stringify(value), _URI_COMPONENT_SAFE).replace("%20", "+")
    return re.sub(r"[!'()*]", lambda m: f"%{ord(m[0]):X}", encoded)


def f_uri_escape(ctx: Ctx, value: Any, *args: Any) -> str:
    return _encode_uri(stringify(value), _URI_SAFE).replace("%5B", "[").replace("%5D", "]")


def decode_uri_component(text: str) -> str:
    """decodeURIComponent: strict UTF-8, URIError on any malformed escape."""
    if "%" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        first = _hex_byte(text, i)
        i += 3
        if first < 0x80:
            out.append(chr(first))
            continue
        if first & 0xE0 == 0xC0:
            count = 2
        elif first & 0xF0 == 0xE0:
            count = 3
        elif first & 0xF8 == 0xF0:
            count = 4
        else:
            raise LiquidFilterError("URI malformed")
        data = bytearray([first])
        for _ in range(count - 1):
            if i >= n or text[i] != "%":
                raise LiquidFilterError("URI malformed")
            byte = _hex_byte(text, i)
            if byte & 0xC0 != 0x80:
                raise LiquidFilterError("URI malformed")
            data.append(byte)
            i += 3
        try:
            out.append(data.decode("utf-8"))
        except UnicodeDecodeError as error:
            raise LiquidFilterError("URI malformed") from error
    return "".join(out)


def _hex_byte(text: str, i: int) -> int:
    digits = text[i + 1 : i + 3]
    if len(digits) != 2 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise LiquidFilterError("URI malformed")
    return int(digits, 16)


def f_url_decode(ctx: Ctx, value: Any, *args: Any) -> str:
    return decode_uri_component(stringify(value).replace("+", " "))


def _slug_keep(ch: str, extra: str) -> bool:
    category = unicodedata.category(ch)
    return category[0] in "ML" or category == "Nd" or ch in extra


_ACCENTS = [
    ("àáâãäå", "a"),
    ("æ", "ae"),
    ("ç", "c"),
    ("èéêë", "e"),
    ("ìíîï", "i"),
    ("ð", "d"),
    ("ñ", "n"),
    ("òóôõöø", "o"),
    ("ùúûü", "u"),
    ("ýÿ", "y"),
    ("ß", "ss"),
    ("œ", "oe"),
    ("þ", "th"),
    ("ẞ", "SS"),
    ("Œ", "OE"),
    ("Þ", "TH"),
]


def _replace_runs(text: str, keep: Callable[[str], bool]) -> str:
    out: list[str] = []
    in_run = False
    for ch in text:
        if keep(ch):
            out.append(ch)
            in_run = False
        elif not in_run:
            out.append("-")
            in_run = True
    return "".join(out)


def f_slugify(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    mode = _arg(args, 0, "default")
    cased = _arg(args, 1, False)
    key = to_js_string(to_primitive(mode, "string"))
    if key in ("default", "latin", "pretty", "ascii", "raw"):
        if key == "latin":
            for chars, plain in _ACCENTS:
                text = re.sub(f"[{chars}]", plain, text)
        if key == "raw":
            text = re.sub(f"[{JS_WHITESPACE}]+", "-", text)
        elif key == "ascii":
            text = re.sub("[^A-Za-z0-9]+", "-", text)
        elif key == "pretty":
            text = _replace_runs(text, lambda ch: _slug_keep(ch, "._~!$&'()+,;=@"))
        else:
            text = _replace_runs(text, lambda ch: _slug_keep(ch, ""))
        text = re.sub(r"^-|-\Z", "", text)
    return text if truthy(cased) else text.lower()


# arrays


def f_join(ctx: Ctx, value: Any, *args: Any) -> str:
    array = to_array(value)
    separator = to_value(_arg(args, 0, UNDEFINED))
    sep = " " if is_nil(separator) else stringify(separator)
    size = utf16_length(sep) * max(len(array) - 1, 0)
    size += sum(utf16_length(to_js_string(item)) for item in array)
    ctx.use(size)
    return sep.join("" if is_nil(item) else to_js_string(item) for item in array)


def _edge(index: int) -> Callable[..., Any]:
    def pick(ctx: Ctx, value: Any, *args: Any) -> Any:
        value = to_value(value)
        return read_index(value, index) if is_array_like(value) else ""

    return pick


def f_size(ctx: Ctx, value: Any, *args: Any) -> Any:
    if not truthy(value):
        return 0
    length = js_length(value) if not isinstance(value, Drop) else UNDEFINED
    return length if truthy(length) else 0


def _property_path(ctx: Ctx, item: Any, prop: Any) -> Any:
    for key in stringify(prop).split("."):
        item = read_property(item, key)
    return item


def f_sum(ctx: Ctx, value: Any, *args: Any) -> Any:
    prop = _arg(args, 0)
    total: float | int = 0
    for item in to_array(value):
        number = to_number(_property_path(ctx, item, prop) if truthy(prop) else item)
        total += 0 if number != number else number
    return total


def f_compact(ctx: Ctx, value: Any, *args: Any) -> list[Any]:
    array = to_array(value)
    ctx.use(len(array))
    return [item for item in array if not is_nil(to_value(item))]


def f_push(ctx: Ctx, value: Any, *args: Any) -> list[Any]:
    array = to_array(value)
    ctx.use(len(array) + 1)
    return [*array, _arg(args, 0)]


def f_unshift(ctx: Ctx, value: Any, *args: Any) -> list[Any]:
    array = to_array(value)
    ctx.use(len(array))
    return [_arg(args, 0), *array]


def f_pop(ctx: Ctx, value: Any, *args: Any) -> list[Any]:
    array = to_array(value)
    ctx.use(len(array))
    return array[:-1]


def f_shift(ctx: Ctx, value: Any, *args: Any) -> list[Any]:
    array = to_array(value)
    ctx.use(len(array))
    return array[1:]


def _js_slice_bounds(length: int, start: Any, end: Any) -> tuple[int, int]:
    """Array.prototype.slice's argument handling."""

    def clamp(value: Any, default: int) -> int:
        if value is UNDEFINED:
            return default
        number = to_integer(value)
        if number < 0:
            return int(max(length + number, 0))
        return int(min(number, length))

    return clamp(start, 0), clamp(end, length)


def f_slice(ctx: Ctx, value: Any, *args: Any) -> Any:
    value = to_value(value)
    begin = args[0] if args else UNDEFINED
    length = _arg(args, 1, 1)
    if is_nil(value):
        return []
    if type(value) is not list:
        value = stringify(value)
    is_list = type(value) is list
    if js_lt(begin, 0):
        begin = js_add(len(value) if is_list else _code_point_length(value), begin)
    if js_lt(begin, 0) or js_lt(length, 0):
        return [] if is_list else ""
    ctx.use(length)
    if is_list:
        start, stop = _js_slice_bounds(len(value), begin, js_add(begin, length))
        return value[start:stop]
    start = _code_points_end(value, 0, begin)
    stop = _code_points_end(value, start, length)
    return _unit_slice(value, start, stop)


def f_where(ctx: Any, value: Any, *args: Any) -> list[Any]:
    prop = _arg(args, 0)
    expected = _arg(args, 1)
    array = to_array(value)
    ctx.use(len(array))
    path = ctx.scope_value(stringify(prop))
    result = []
    for item in array:
        if path is None:
            found: Any = UNDEFINED
        else:
            found = path.evaluate(ctx.spawn(item))
        matched = not is_falsy(found) if expected is UNDEFINED else equals(found, expected)
        if matched:
            result.append(item)
    return result


def f_sample(ctx: Ctx, value: Any, *args: Any) -> Any:
    value = to_value(value)
    count = _arg(args, 0, 1)
    if is_nil(value):
        return []
    if type(value) is not list:
        value = stringify(value)
    ctx.use(js_length(value))
    items = list(value)  # strings: [...str] splits code points
    random.shuffle(items)
    if count == 1 and is_number(count):
        return items[0] if items else UNDEFINED
    start, stop = _js_slice_bounds(len(items), 0, count)
    return items[start:stop]


# strings


def _string_filter(func: Callable[[str], str]) -> Callable[..., str]:
    def apply(ctx: Ctx, value: Any, *args: Any) -> str:
        text = stringify(value)
        ctx.use(utf16_length(text))
        return func(text)

    return apply


def _exactly_one_arg(name: str, args: tuple[Any, ...]) -> Any:
    if len(args) != 1:
        raise LiquidFilterError(f"{name} expect 2 arguments")
    return args[0]


def f_append(ctx: Ctx, value: Any, *args: Any) -> str:
    left, right = stringify(value), stringify(_exactly_one_arg("append", args))
    ctx.use(utf16_length(left) + utf16_length(right))
    return left + right


def f_prepend(ctx: Ctx, value: Any, *args: Any) -> str:
    left, right = stringify(value), stringify(_exactly_one_arg("prepend", args))
    ctx.use(utf16_length(left) + utf16_length(right))
    return right + left


def _char_set(chars: Any) -> set[str]:
    return set(stringify(chars))  # a Set of the string's code points


def _strip_one_side(ctx: Ctx, value: Any, args: tuple[Any, ...], left: bool) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    chars = _arg(args, 0)
    if truthy(chars):
        chars_text = stringify(chars)
        ctx.use(utf16_length(chars_text))
        strip_chars = "".join(set(chars_text))
    else:
        strip_chars = JS_WHITESPACE
    return text.lstrip(strip_chars) if left else text.rstrip(strip_chars)


def f_lstrip(ctx: Ctx, value: Any, *args: Any) -> str:
    return _strip_one_side(ctx, value, args, left=True)


def f_rstrip(ctx: Ctx, value: Any, *args: Any) -> str:
    return _strip_one_side(ctx, value, args, left=False)


def f_strip(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    chars = _arg(args, 0)
    if truthy(chars):
        charset = _char_set(chars)
        ctx.use(len(charset))
        return text.strip("".join(charset))
    return text.strip(JS_WHITESPACE)


def _js_split(text: str, separator: str) -> list[str]:
    if separator == "":
        return [_recombine(u) for u in _units(text)]
    return text.split(separator)


def f_remove(ctx: Ctx, value: Any, *args: Any) -> str:
    text, pattern = stringify(value), stringify(_arg(args, 0))
    ctx.use(utf16_length(text) + utf16_length(pattern))
    return text if pattern == "" else text.replace(pattern, "")


def f_remove_first(ctx: Ctx, value: Any, *args: Any) -> str:
    text, pattern = stringify(value), stringify(_arg(args, 0))
    ctx.use(utf16_length(text) + utf16_length(pattern))
    return text.replace(pattern, "", 1)


def f_remove_last(ctx: Ctx, value: Any, *args: Any) -> str:
    text, pattern = stringify(value), stringify(_arg(args, 0))
    ctx.use(utf16_length(text) + utf16_length(pattern))
    index = text.rfind(pattern)
    if index == -1:
        return text
    return text[:index] + text[index + len(pattern) :]


def f_split(ctx: Ctx, value: Any, *args: Any) -> list[str]:
    text = stringify(value)
    ctx.use(utf16_length(text))
    parts = _js_split(text, stringify(_arg(args, 0)))
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def f_strip_newlines(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    return re.sub(r"\r?\n", "", text)


_JS_SPACE_RUN = re.compile(f"[{JS_WHITESPACE}]+")


def f_squish(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    return _JS_SPACE_RUN.sub(" ", text).strip(JS_WHITESPACE)


def f_normalize_whitespace(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    return _JS_SPACE_RUN.sub(" ", text)


def _js_lower(text: str) -> str:
    return text.lower()


def _js_upper(text: str) -> str:
    return text.upper()


def f_capitalize(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    if not text:
        return ""
    first = text[0]
    # charAt(0) of an astral character is half of it: upper-casing leaves it unchanged.
    head = first if ord(first) > 0xFFFF else _js_upper(first)
    return head + _js_lower(text[1:])


def f_replace(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    pattern, replacement = stringify(_arg(args, 0)), stringify(_arg(args, 1))
    parts = _js_split(text, pattern)
    size = utf16_length(text) + (len(parts) - 1) * (
        utf16_length(replacement) - utf16_length(pattern)
    )
    ctx.use(size)
    return _recombine(replacement.join(parts))


def f_replace_first(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    pattern, replacement = stringify(_arg(args, 0)), stringify(_arg(args, 1))
    ctx.use(utf16_length(text) + utf16_length(pattern) + utf16_length(replacement))
    return text.replace(pattern, replacement, 1)


def f_replace_last(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    pattern, replacement = stringify(_arg(args, 0)), stringify(_arg(args, 1))
    ctx.use(utf16_length(text) + utf16_length(pattern) + utf16_length(replacement))
    index = text.rfind(pattern)
    if index == -1:
        return text
    return text[:index] + replacement + text[index + len(pattern) :]


def f_truncate(ctx: Ctx, value: Any, *args: Any) -> Any:
    text = stringify(value)
    limit = _arg(args, 0, 50)
    tail = stringify(_arg(args, 1, "..."))
    ctx.use(utf16_length(text) + utf16_length(tail))
    length = utf16_length(text)
    if js_le(length, limit) or _code_points_end(text, 0, limit) >= length:
        return value
    keep = _max(to_number(js_add_number(limit, -_code_point_length(tail))), 0.0)
    return _unit_slice(text, 0, _code_points_end(text, 0, keep)) + tail


def js_add_number(value: Any, delta: int) -> float:
    """`value - n` (JavaScript subtraction coerces to numbers)."""
    return to_number(value) + delta


def f_truncatewords(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    words = _arg(args, 0, 15)
    tail = stringify(_arg(args, 1, "..."))
    ctx.use(utf16_length(text) + utf16_length(tail))
    parts = _JS_SPACE_RUN.split(text.lstrip(JS_WHITESPACE))
    if js_le(words, 0):
        words = 1
    start, stop = _js_slice_bounds(len(parts), 0, words)
    result = " ".join(parts[start:stop])
    if js_ge(len(parts), words):
        result += tail
    return result


_CJK = "\u4e00-\u9fff\uf900-\ufaff\u3400-\u4dbf\u3040-\u309f\u30a0-\u30ff\uac00-\ud7af"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_NON_CJK_WORD = re.compile(f"[^{_CJK}{JS_WHITESPACE}]+")


def f_number_of_words(ctx: Ctx, value: Any, *args: Any) -> int:
    text = stringify(value)
    ctx.use(utf16_length(text))
    text = text.strip(JS_WHITESPACE)
    if not text:
        return 0
    mode = _arg(args, 0)
    if mode == "cjk" or (mode == "auto" and _CJK_CHAR.search(text)):
        return len(_CJK_CHAR.findall(text)) + len(_NON_CJK_WORD.findall(text))
    return len(_JS_SPACE_RUN.split(text))


# base64 and crypto


def _node_utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(
            "\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in _recombine(text)
        ).encode("utf-8")


def f_base64_encode(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    return base64.b64encode(_node_utf8(text)).decode("ascii")


_B64_SPACE = re.compile("[\t\n\f\r ]")
_B64_BODY = re.compile("[A-Za-z0-9+/]*")


def f_base64_decode(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    body = _B64_SPACE.sub("", text)
    if len(body) % 4 == 0:
        body = re.sub("==?$", "", body)
    if len(body) % 4 == 1 or not _B64_BODY.fullmatch(body):
        raise LiquidFilterError("invalid base64 provided to base64_decode")
    data = base64.b64decode(body + "=" * (-len(body) % 4))
    return data.decode("utf-8", "replace")


def f_sha256(ctx: Ctx, value: Any, *args: Any) -> str:
    text = stringify(value)
    ctx.use(utf16_length(text))
    return hashlib.sha256(_node_utf8(text)).hexdigest()


def f_hmac_sha256(ctx: Ctx, value: Any, *args: Any) -> str:
    text, key = stringify(value), stringify(_arg(args, 0))
    ctx.use(utf16_length(text) + utf16_length(key))
    return hmac.new(_node_utf8(key), _node_utf8(text), hashlib.sha256).hexdigest()


# misc


def f_default(ctx: Ctx, value: Any, *args: Any) -> Any:
    value = to_value(value)
    fallback = _arg(args, 0)
    if type(value) is list or type(value) is str:
        return value if value else fallback
    if value is False:
        allow: Any = UNDEFINED
        for entry in args[1:]:  # new Map(entries).get("allow_false")
            if type(entry) is not list and type(entry) is not dict and not isinstance(entry, Drop):
                raise LiquidFilterError("Iterator value is not an entry object")
            key, item = read_property(entry, 0), read_property(entry, 1)
            if type(key) is str and key == "allow_false":
                allow = item
        if truthy(allow):
            return False
    return fallback if is_falsy(value) else value


def _charge_json(ctx: Ctx, value: Any) -> None:
    if type(value) is str:
        ctx.use(utf16_length(value))
    elif value is None or type(value) in (bool, int, float):
        ctx.use(len(_json_text(value, None, "")))
    elif type(value) is list:
        ctx.use(len(value) + 1)
    elif isinstance(value, dict | Drop):  # a ProtoObject too
        ctx.use(2)


def _indent(space: Any) -> str | None:
    """JSON.stringify's gap as V8 sets it: None for compact output.

    V8 pretty-prints for any positive number, so 0.5 gives newlines without indentation.
    """
    if is_number(space):
        width = min(float(space), 10.0)
        return " " * int(width) if width > 0 else None
    if type(space) is str and space:
        return _unit_slice(space, 0, 10)
    return None


def f_json(ctx: Ctx, value: Any, *args: Any) -> Any:
    indent = _indent(_arg(args, 0, 0))
    if value is UNDEFINED:
        return UNDEFINED  # JSON.stringify(undefined): prints nothing
    return _json_text(value, indent, "", ctx)


def _json_text(value: Any, indent: str | None, current: str, ctx: Ctx | None = None) -> str:
    """JSON.stringify with a replacer that charges liquidjs's memory limit."""
    if ctx is not None:
        _charge_json(ctx, value)
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return to_js_string(value) if math.isfinite(value) else "null"
    inner = current + (indent or "")
    if kind is list:
        if not value:
            return "[]"
        items = [
            "null" if item is UNDEFINED else _json_text(item, indent, inner, ctx) for item in value
        ]
        return _wrap("[", "]", items, indent, current, inner)
    if kind is dict or kind is ProtoObject:
        parts = []
        colon = ":" if indent is None else ": "
        for key in js_key_order(value):
            item = value[key]
            if item is UNDEFINED:
                continue
            parts.append(_json_string(key) + colon + _json_text(item, indent, inner, ctx))
        if not parts:
            return "{}"
        return _wrap("{", "}", parts, indent, current, inner)
    return "{}"  # drops: objects without enumerable keys


def _wrap(
    open_: str, close: str, parts: list[str], indent: str | None, current: str, inner: str
) -> str:
    if indent is None:
        return open_ + ",".join(parts) + close
    return f"{open_}\n{inner}" + f",\n{inner}".join(parts) + f"\n{current}{close}"


_SURROGATE_RE = re.compile("([\ud800-\udbff][\udc00-\udfff])|[\ud800-\udfff]")


def _json_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    if not _SURROGATE_RE.search(encoded):
        return encoded
    return _SURROGATE_RE.sub(lambda m: _recombine(m[1]) if m[1] else f"\\u{ord(m[0]):04x}", encoded)


def f_to_integer(ctx: Ctx, value: Any, *args: Any) -> float:
    return to_number(value)


def f_raw(ctx: Ctx, value: Any, *args: Any) -> Any:
    return value


def _disabled(name: str) -> Callable[..., Any]:
    def refuse(ctx: Ctx, value: Any, *args: Any) -> Any:
        raise LiquidFilterError(f'filter "{name}" is disabled')

    return refuse


FILTERS: dict[str, Callable[..., Any]] = {
    "escape": f_escape,
    "xml_escape": f_escape,
    "escape_once": f_escape_once,
    "strip_html": f_strip_html,
    "abs": _math(lambda x, *rest: abs(x)),
    "at_least": _math(_max),
    "at_most": _math(_min),
    "ceil": _math(_js_ceil),
    "divided_by": _math(_divided_by),
    "floor": _math(_js_floor),
    "minus": _math(lambda a, b=math.nan, *rest: a - b),
    "plus": _math(lambda a, b=math.nan, *rest: a + b),
    "modulo": _math(_modulo),
    "times": _math(lambda a, b=math.nan, *rest: a * b),
    "round": f_round,
    "url_decode": f_url_decode,
    "url_encode": f_url_encode,
    "cgi_escape": f_cgi_escape,
    "uri_escape": f_uri_escape,
    "slugify": f_slugify,
    "join": f_join,
    "first": _edge(0),
    "last": _edge(-1),
    "size": f_size,
    "sum": f_sum,
    "compact": f_compact,
    "push": f_push,
    "unshift": f_unshift,
    "pop": f_pop,
    "shift": f_shift,
    "slice": f_slice,
    "where": f_where,
    "sample": f_sample,
    "date": liquid_dates.f_date,
    "date_to_xmlschema": liquid_dates.f_date_to_xmlschema,
    "date_to_rfc822": liquid_dates.f_date_to_rfc822,
    "date_to_string": liquid_dates.f_date_to_string,
    "date_to_long_string": liquid_dates.f_date_to_long_string,
    "append": f_append,
    "prepend": f_prepend,
    "lstrip": f_lstrip,
    "downcase": _string_filter(_js_lower),
    "upcase": _string_filter(_js_upper),
    "remove": f_remove,
    "remove_first": f_remove_first,
    "remove_last": f_remove_last,
    "rstrip": f_rstrip,
    "split": f_split,
    "strip": f_strip,
    "strip_newlines": f_strip_newlines,
    "squish": f_squish,
    "capitalize": f_capitalize,
    "replace": f_replace,
    "replace_first": f_replace_first,
    "replace_last": f_replace_last,
    "truncate": f_truncate,
    "truncatewords": f_truncatewords,
    "normalize_whitespace": f_normalize_whitespace,
    "number_of_words": f_number_of_words,
    "base64_encode": f_base64_encode,
    "base64_decode": f_base64_decode,
    "sha256": f_sha256,
    "hmac_sha256": f_hmac_sha256,
    "default": f_default,
    "raw": f_raw,
    "jsonify": f_json,
    "json": f_json,
    "inspect": f_json,
    "to_integer": f_to_integer,
}
FILTERS.update({name: _disabled(name) for name in DISABLED_FILTERS})

__all__ = ["DISABLED_FILTERS", "FILTERS"]
