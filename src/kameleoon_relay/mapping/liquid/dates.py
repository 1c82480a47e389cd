"""liquidjs's date filters: JavaScript's Date parsing, liquidjs's strftime, en-US names.

Dates render in UTC, the time zone of Segment's servers (liquidjs renders in the
process's local zone). Strings are read the way V8's `new Date(string)` reads
them: the ES date-time format, then V8's lenient legacy parser, whose rules this
module follows token by token ("Jan 5" is 2001-01-05, "12" is 2001-12-01).
"""

from __future__ import annotations

import math
import re
import time
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kameleoon_relay.js.members import js_length
from kameleoon_relay.js.operators import js_add, js_gt, to_number, to_primitive
from kameleoon_relay.js.strings import JS_WHITESPACE, to_js_string, utf16_length
from kameleoon_relay.js.values import UNDEFINED, is_number
from kameleoon_relay.mapping.liquid.errors import LiquidFilterError
from kameleoon_relay.mapping.liquid.values import Drop, is_nil, stringify, to_value


def now_ms() -> float:
    """Date.now(); tests replace it to freeze "now"."""
    return float(time.time_ns() // 1_000_000)


_MAX_TIME = 8.64e15
_MS_PER_DAY = 86_400_000


def time_clip(ms: float) -> float:
    if not math.isfinite(ms) or abs(ms) > _MAX_TIME:
        return math.nan
    return float(math.trunc(ms)) + 0.0


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400  # floor division (the C original truncates, then adjusts)
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(days: int) -> tuple[int, int, int]:
    days += 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    year = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return year + (month <= 2), month, day


def make_date(
    year: float, month: float, day: float, h: float, m: float, s: float, ms: float
) -> float:
    """MakeDate(MakeDay(...), MakeTime(...)) with month and day overflow."""
    year += month // 12
    month = month % 12
    if abs(year) > 400_000:
        return math.nan
    days = _days_from_civil(int(year), int(month) + 1, 1) + day - 1
    return days * _MS_PER_DAY + ((h * 60 + m) * 60 + s) * 1000 + ms


class Fields:
    """The UTC calendar fields of a time value (what Date's getters return in UTC)."""

    __slots__ = ("day", "hours", "millis", "minutes", "month", "seconds", "weekday", "year")

    def __init__(self, ms: float) -> None:
        days, rest = divmod(int(ms), _MS_PER_DAY)
        self.year, month, self.day = _civil_from_days(days)
        self.month = month - 1
        self.weekday = (days + 4) % 7
        self.hours, rest = divmod(rest, 3_600_000)
        self.minutes, rest = divmod(rest, 60_000)
        self.seconds, self.millis = divmod(rest, 1000)


# V8's date string parser


_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_KEYWORDS: dict[str, tuple[str, int]] = {m: ("month", i + 1) for i, m in enumerate(_MONTHS)}
_KEYWORDS.update({"am": ("ampm", 0), "pm": ("ampm", 12), "ut": ("tz", 0), "utc": ("tz", 0)})
_KEYWORDS.update({"z": ("tz", 0), "gmt": ("tz", 0), "cdt": ("tz", -5), "cst": ("tz", -6)})
_KEYWORDS.update({"edt": ("tz", -4), "est": ("tz", -5), "mdt": ("tz", -6), "mst": ("tz", -7)})
_KEYWORDS.update({"pdt": ("tz", -7), "pst": ("tz", -8), "t": ("t", 0)})
_NONE = None


class _Tok:
    __slots__ = ("kind", "length", "value")

    def __init__(self, kind: str, value: Any = None, length: int = 0) -> None:
        self.kind, self.value, self.length = kind, value, length

    def is_number(self, length: int | None = None) -> bool:
        return self.kind == "num" and (length is None or self.length == length)

    def is_symbol(self, ch: str) -> bool:
        return self.kind == "sym" and self.value == ch

    def is_sign(self) -> bool:
        return self.kind == "sym" and self.value in "+-"

    def keyword(self) -> tuple[str, int] | None:
        if self.kind != "word":
            return None
        word, length = self.value
        entry = _KEYWORDS.get(word)
        if entry is None:
            return None
        if length > 3 and entry[0] != "month":
            return None
        return entry


def _lower_ascii(ch: str) -> str:
    return chr(ord(ch) | 0x20) if ord(ch) < 128 else ch


class _DateScanner:
    def __init__(self, text: str) -> None:
        self.text, self.i = text, 0
        self.peeked = self._scan()

    def _scan(self) -> _Tok:
        text, i = self.text, self.i
        if i >= len(text):
            return _Tok("end")
        ch = text[i]
        if "0" <= ch <= "9":
            start = i
            while i < len(text) and text[i] == "0":
                i += 1
            value = digits = 0
            while i < len(text) and "0" <= text[i] <= "9":
                if digits < 9:
                    value = value * 10 + ord(text[i]) - 48
                digits += 1
                i += 1
            self.i = i
            return _Tok("num", value, i - start)
        if ch in ":-+.)":
            self.i = i + 1
            return _Tok("sym", ch)
        if ch >= "A" and ch not in JS_WHITESPACE:
            start = i
            while i < len(text) and text[i] >= "A" and text[i] not in JS_WHITESPACE:
                i += 1
            self.i = i
            prefix = "".join(_lower_ascii(c) for c in text[start : min(i, start + 3)])
            return _Tok("word", (prefix, i - start))
        if ch in JS_WHITESPACE:
            self.i = i + 1
            return _Tok("space")
        if ch == "(":
            balance = 0
            while True:
                c = text[i] if i < len(text) else ""
                if c == ")":
                    balance -= 1
                elif c == "(":
                    balance += 1
                i += 1
                if not (balance > 0 and i < len(text)):
                    break
            self.i = i
            return _Tok("unknown")
        self.i = i + 1
        return _Tok("unknown")

    def peek(self) -> _Tok:
        return self.peeked

    def next(self) -> _Tok:
        token = self.peeked
        self.peeked = self._scan()
        return token

    def skip_symbol(self, ch: str) -> bool:
        if self.peeked.is_symbol(ch):
            self.next()
            return True
        return False


def _millis(token: _Tok) -> int:
    number, length = token.value, token.length
    if length == 1:
        return number * 100
    if length == 2:
        return number * 10
    if length > 3:
        length = min(length, 9)
        return number // 10 ** (length - 3)
    return number


class _Parse:
    def __init__(self) -> None:
        self.day: list[int] = []
        self.named_month: int | None = None
        self.iso = False
        self.time: list[int] = []
        self.hour_offset: int | None = None
        self.sign: int | None = None
        self.tz_hour: int | None = None
        self.tz_minute: int | None = None

    def set_tz(self, hours: int) -> None:
        self.sign = -1 if hours < 0 else 1
        self.tz_hour, self.tz_minute = abs(hours), 0

    def tz_expecting(self, n: int) -> bool:
        return self.tz_hour is not None and self.tz_minute is None and 0 <= n <= 59

    def time_expecting(self, n: int) -> bool:
        size = len(self.time)
        return (
            (size == 1 and 0 <= n <= 59)
            or (size == 2 and 0 <= n <= 59)
            or (size == 3 and 0 <= n <= 999)
        )

    def time_add(self, n: int) -> bool:
        if len(self.time) >= 4:
            return False
        self.time.append(n)
        return True

    def time_final(self, n: int) -> bool:
        if not self.time_add(n):
            return False
        self.time += [0] * (4 - len(self.time))
        return True

    def es5(self, scan: _DateScanner) -> _Tok | None:
        """The ES date-time format; returns the first token left for the legacy parser."""
        if scan.peek().is_sign():
            sign_token = scan.next()
            if not scan.peek().is_number(6):
                return sign_token
            year = scan.next().value
            if sign_token.value == "-" and year == 0:
                return sign_token
            self.day.append(-year if sign_token.value == "-" else year)
        elif scan.peek().is_number(4):
            self.day.append(scan.next().value)
        else:
            return scan.next()
        if scan.skip_symbol("-"):
            if not scan.peek().is_number(2) or not 1 <= scan.peek().value <= 12:
                return scan.next()
            self.day.append(scan.next().value)
            if scan.skip_symbol("-"):
                if not scan.peek().is_number(2) or not 1 <= scan.peek().value <= 31:
                    return scan.next()
                self.day.append(scan.next().value)
        keyword = scan.peek().keyword()
        if not keyword or keyword[0] != "t":
            if scan.peek().kind != "end":
                return scan.next()
        else:
            scan.next()
            if not scan.peek().is_number(2) or not 0 <= scan.peek().value <= 24:
                return None
            hour_24 = scan.peek().value == 24
            self.time.append(scan.next().value)
            if not scan.skip_symbol(":"):
                return None
            if not self._two(scan, 59, hour_24):
                return None
            if scan.skip_symbol(":"):
                if not self._two(scan, 59, hour_24):
                    return None
                if scan.skip_symbol("."):
                    if not scan.peek().is_number() or (hour_24 and scan.peek().value > 0):
                        return None
                    self.time.append(_millis(scan.next()))
            keyword = scan.peek().keyword()
            if keyword == ("tz", 0) and scan.peek().value[1] == 1:
                scan.next()
                self.set_tz(0)
            elif scan.peek().is_sign():
                self.sign = 1 if scan.next().value == "+" else -1
                if scan.peek().is_number(4):
                    hour, minute = divmod(scan.next().value, 100)
                    if not (0 <= hour <= 23 and 0 <= minute <= 59):
                        return None
                    self.tz_hour, self.tz_minute = hour, minute
                else:
                    if not scan.peek().is_number(2) or not 0 <= scan.peek().value <= 23:
                        return None
                    self.tz_hour = scan.next().value
                    if not scan.skip_symbol(":"):
                        return None
                    if not scan.peek().is_number(2) or not 0 <= scan.peek().value <= 59:
                        return None
                    self.tz_minute = scan.next().value
            if scan.peek().kind != "end":
                return None
        if self.tz_hour is None and not self.time:
            self.set_tz(0)
        self.iso = True
        return _Tok("end")

    def _two(self, scan: _DateScanner, top: int, hour_24: bool) -> bool:
        token = scan.peek()
        if not token.is_number(2) or not 0 <= token.value <= top or (hour_24 and token.value > 0):
            return False
        self.time.append(scan.next().value)
        return True

    def legacy(self, scan: _DateScanner, token: _Tok) -> bool:
        has_number = bool(self.day)
        while token.kind != "end":
            if token.kind == "num":
                has_number = True
                n = token.value
                if scan.skip_symbol(":"):
                    if scan.skip_symbol(":"):
                        if self.time:
                            return False
                        self.time += [n, 0]
                    else:
                        if not self.time_add(n):
                            return False
                        if scan.peek().is_symbol("."):
                            scan.next()
                elif scan.peek().is_symbol(".") and self.time_expecting(n):
                    scan.next()
                    self.time_add(n)
                    if not scan.peek().is_number():
                        return False
                    self.time_final(_millis(scan.next()))
                elif self.tz_expecting(n):
                    self.tz_minute = n
                elif self.time_expecting(n):
                    self.time_final(n)
                    peek = scan.peek()
                    if not (
                        peek.kind in ("end", "space")
                        or (peek.keyword() == ("tz", 0) and peek.value == ("z", 1))
                        or peek.is_sign()
                    ):
                        return False
                else:
                    if len(self.day) >= 3:
                        return False
                    self.day.append(n)
                    scan.skip_symbol("-")
            elif token.kind == "word":
                keyword = token.keyword()
                if keyword and keyword[0] == "ampm" and self.time:
                    self.hour_offset = keyword[1]
                elif keyword and keyword[0] == "month":
                    self.named_month = keyword[1]
                    scan.skip_symbol("-")
                elif keyword and keyword[0] == "tz" and has_number:
                    self.set_tz(keyword[1])
                else:
                    if has_number or scan.peek().kind == "num":
                        return False
            elif token.is_sign() and ((self.tz_hour == 0 and self.tz_minute == 0) or self.time):
                self.sign = -1 if token.value == "-" else 1
                n = length = 0
                if scan.peek().kind == "num":
                    nxt = scan.next()
                    n, length = nxt.value, nxt.length
                has_number = True
                if scan.peek().is_symbol(":"):
                    self.tz_hour, self.tz_minute = n, None
                elif length in (1, 2):
                    self.tz_hour, self.tz_minute = n, 0
                elif length in (3, 4):
                    self.tz_hour, self.tz_minute = divmod(n, 100)
                else:
                    return False
            elif (token.is_sign() or token.is_symbol(")")) and has_number:
                return False
            token = scan.next()
        return True

    def result(self) -> float:
        if not self.day:
            return math.nan
        comp = self.day + [1] * (3 - len(self.day))
        year = 0
        if self.named_month is None:
            if self.iso or not 1 <= comp[0] <= 31:
                year, month, day = comp
            else:
                month, day, year = comp
        else:
            month = self.named_month
            if not 1 <= comp[0] <= 31:
                year, day = comp[0], comp[1]
            else:
                day, year = comp[0], comp[1]
        if not self.iso:
            if 0 <= year <= 49:
                year += 2000
            elif 50 <= year <= 99:
                year += 1900
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return math.nan
        clock = self.time + [0] * (4 - len(self.time))
        hour, minute, second, milli = clock
        if self.hour_offset is not None:
            if not 0 <= hour <= 12:
                return math.nan
            hour = hour % 12 + self.hour_offset
        in_range = 0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59
        if not (in_range and 0 <= milli <= 999) and (hour, minute, second, milli) != (24, 0, 0, 0):
            return math.nan
        value = make_date(year, month - 1, day, hour, minute, second, milli)
        if self.sign is not None:
            offset = ((self.tz_hour or 0) * 3600 + (self.tz_minute or 0) * 60) * self.sign
            value -= offset * 1000
        if value != value or abs(value) > _MAX_TIME + (_MS_PER_DAY if self.sign is None else 0):
            return math.nan
        return value


def parse_date_string(text: str) -> float:
    """Date.parse(text) for a process whose local time zone is UTC."""
    scan = _DateScanner(text)
    state = _Parse()
    token = state.es5(scan)
    if token is None or not state.legacy(scan, token):
        return math.nan
    return time_clip(state.result())


# liquidjs's LiquidDate and strftime


class LiquidDate:
    __slots__ = ("display", "fields", "fixed", "offset", "utc", "zone_name")

    def __init__(self, utc: float, timezone: Any = UNDEFINED) -> None:
        self.utc = time_clip(utc)
        self.fixed = not is_nil(timezone)
        if not self.fixed:
            self.offset: Any = 0
            self.zone_name = ""
        elif type(timezone) is str:
            self.offset = _zone_offset(timezone, self.utc)
            self.zone_name = timezone
        else:
            self.offset = timezone
            self.zone_name = ""
        shift = (0 - to_number(self.offset)) * 60000
        self.display = time_clip(self.utc + shift)
        self.fields = Fields(self.display) if self.display == self.display else None


_ZONES: dict[str, str] | None = None


def _zone_offset(name: str, utc: float) -> float:
    """liquidjs's offset (minutes west of UTC) of an IANA zone at an instant."""
    if utc != utc:
        return math.nan  # toLocaleString() of an invalid date does not check the zone
    global _ZONES
    if _ZONES is None:
        _ZONES = {zone.lower(): zone for zone in zoneinfo.available_timezones()}
        _ZONES.update({"utc": "UTC", "gmt": "GMT"})
    zone_key = _ZONES.get(name.lower())
    if zone_key is None:
        raise LiquidFilterError(f"Invalid time zone specified: {name}")
    # Outside Python's years, the zone's offset at the nearest representable instant
    # (liquidjs reads the offset back from locale strings, which keeps it constant there).
    seconds = min(max(math.floor(utc / 1000), -62135510400), 253402214400)
    moment = datetime.fromtimestamp(seconds, UTC)
    offset = moment.astimezone(zoneinfo.ZoneInfo(zone_key)).utcoffset()
    assert offset is not None
    return -offset.total_seconds() / 60


_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_PAD_WIDTHS = {"C": 2, "d": 2, "e": 2, "H": 2, "I": 2, "j": 3, "k": 2, "l": 2, "L": 3}
_PAD_WIDTHS.update({"m": 2, "M": 2, "S": 2, "U": 2, "W": 2, "y": 2, "Y": 4})
_PAD_SPACE = set("aAbBceklpP")
_FORMAT = re.compile("%([-_0^#:]+)?([0-9]+)?([EO])?([^\n\r\u2028\u2029])")


def _leap(year: int) -> bool:
    # liquidjs's own test: year 0 is not a leap year here.
    return (year & 3) == 0 and (
        math.fmod(year, 100) != 0 or (math.fmod(year, 400) == 0 and year != 0)
    )


def _day_of_year(f: Fields) -> int:
    lengths = [31, 29 if _leap(f.year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return sum(lengths[: f.month]) + f.day


def _week_of_year(f: Fields, start: int) -> str:
    since = (f.weekday - start + 7) % 7
    return str((_day_of_year(f) - 1 - since + 7) // 7)


def _ordinal(f: Fields) -> str:
    if f.day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(f.day % 10, "th")


def _locale_date(f: Fields) -> str:
    year = f.year if f.year > 0 else 1 - f.year  # en-US shows era years without the era
    return f"{f.month + 1}/{f.day}/{year}"


def _locale_time(f: Fields) -> str:
    suffix = "AM" if f.hours < 12 else "PM"
    return f"{f.hours % 12 or 12}:{f.minutes:02d}:{f.seconds:02d} {suffix}"


def _offset_text(d: LiquidDate, colon: bool) -> str:
    offset = d.offset
    absolute = abs(to_number(offset))
    hours = math.floor(absolute / 60)
    minutes = math.fmod(absolute, 60) if math.isfinite(absolute) else math.nan
    sign = "-" if js_gt(offset, 0) else "+"
    return (
        sign
        + _pad(to_js_string(float(hours)), 2, "0")
        + (":" if colon else "")
        + _pad(to_js_string(minutes), 2, "0")
    )


def _pad(text: str, width: float, ch: str, end: bool = False) -> str:
    missing = int(width) - utf16_length(text) if width == width and math.isfinite(width) else 0
    if missing <= 0:
        return text
    return text + ch * missing if end else ch * missing + text


_Convert = Callable[[LiquidDate, "Fields", dict[str, Any]], Any]

_CODES: dict[str, _Convert] = {
    "a": lambda d, f, o: _DAYS[f.weekday][:3],
    "A": lambda d, f, o: _DAYS[f.weekday],
    "b": lambda d, f, o: _MONTH_NAMES[f.month][:3],
    "B": lambda d, f, o: _MONTH_NAMES[f.month],
    "c": lambda d, f, o: f"{_locale_date(f)}, {_locale_time(f)}",
    "C": lambda d, f, o: f.year // 100,
    "d": lambda d, f, o: f.day,
    "e": lambda d, f, o: f.day,
    "H": lambda d, f, o: f.hours,
    "I": lambda d, f, o: str(f.hours % 12 or 12),
    "j": lambda d, f, o: _day_of_year(f),
    "k": lambda d, f, o: f.hours,
    "l": lambda d, f, o: str(f.hours % 12 or 12),
    "L": lambda d, f, o: f.millis,
    "m": lambda d, f, o: f.month + 1,
    "M": lambda d, f, o: f.minutes,
    "N": lambda d, f, o: _nanos(f, o),
    "p": lambda d, f, o: "AM" if f.hours < 12 else "PM",
    "P": lambda d, f, o: "am" if f.hours < 12 else "pm",
    "q": lambda d, f, o: _ordinal(f),
    "s": lambda d, f, o: math.floor(d.utc / 1000),
    "S": lambda d, f, o: f.seconds,
    "u": lambda d, f, o: f.weekday or 7,
    "U": lambda d, f, o: _week_of_year(f, 0),
    "w": lambda d, f, o: f.weekday,
    "W": lambda d, f, o: _week_of_year(f, 1),
    "x": lambda d, f, o: _locale_date(f),
    "X": lambda d, f, o: _locale_time(f),
    "y": lambda d, f, o: f.year % 100,
    "Y": lambda d, f, o: f.year,
    "z": lambda d, f, o: _offset_text(d, ":" in o["flags"]),
    "Z": lambda d, f, o: (d.zone_name if d.fixed else "UTC") or _offset_text(d, ":" in o["flags"]),
    "t": lambda d, f, o: "\t",
    "n": lambda d, f, o: "\n",
    "%": lambda d, f, o: "%",
}
_CODES["h"] = _CODES["b"]


def _nanos(f: Fields, o: dict[str, Any]) -> str:
    width = to_number(o["width"]) if o["width"] else 0
    width = width or 9
    text = _pad(str(f.millis), 3, "0")[: int(width)]
    o["use"](width - len(text))
    return _pad(text, width, "0", end=True)


def strftime(d: LiquidDate, fmt: str, use: Callable[[Any], None]) -> str:
    fields = d.fields
    assert fields is not None
    out: list[str] = []
    pos = 0
    for match in _FORMAT.finditer(fmt):
        out.append(fmt[pos : match.start()])
        pos = match.end()
        flag_text, width, _modifier, conversion = match.groups()
        convert = _CODES.get(conversion)
        if convert is None:
            out.append(match[0])
            continue
        flags = set(flag_text or "")
        value = convert(d, fields, {"flags": flags, "width": width, "use": use})
        text = value if type(value) is str else to_js_string(value)
        pad_char = " " if conversion in _PAD_SPACE else "0"
        pad_width = (int(width) if width and int(width) else 0) or _PAD_WIDTHS.get(conversion, 0)
        if "^" in flags:
            text = text.upper()
        elif "#" in flags:
            text = text.upper() if any("a" <= c <= "z" for c in text) else text.lower()
        if "_" in flags:
            pad_char = " "
        elif "0" in flags:
            pad_char = "0"
        if "-" in flags:
            pad_width = 0
        use(pad_width - utf16_length(text))
        if pad_char == "0" and text[:1] == "-":
            out.append("-" + _pad(text[1:], pad_width - 1, pad_char))
        else:
            out.append(_pad(text, pad_width, pad_char))
    out.append(fmt[pos:])
    return "".join(out)


_DIGITS = re.compile("[0-9]+")


def parse_date(value: Any, timezone: Any = UNDEFINED) -> LiquidDate | None:
    value = to_value(value)
    if is_nil(value):
        return None
    if value in ("now", "today") and type(value) is str:
        date = LiquidDate(now_ms(), timezone)
    elif is_number(value):
        date = LiquidDate(value * 1000, timezone)
    elif type(value) is str:
        if _DIGITS.fullmatch(value):
            date = LiquidDate(float(value) * 1000, timezone)
        else:
            date = LiquidDate(parse_date_string(value), timezone)
    else:
        date = LiquidDate(_date_from_object(value), timezone)
    return date if date.fields is not None else None


def _date_from_object(value: Any) -> float:
    primitive = to_primitive(value)
    if type(primitive) is str:
        return parse_date_string(primitive)
    return to_number(primitive)


def _length_or_zero(value: Any) -> Any:
    if is_nil(value) or isinstance(value, Drop):
        return 0
    length = js_length(value)
    return 0 if is_nil(length) else length


DEFAULT_FORMAT = "%A, %B %-e, %Y at %-l:%M %P %z"


def f_date(ctx: Any, value: Any, *args: Any) -> Any:
    fmt = args[0] if args else UNDEFINED
    timezone = args[1] if len(args) > 1 else UNDEFINED
    ctx.use(js_add(_length_or_zero(value), _length_or_zero(timezone)))
    return _format_date(ctx, value, fmt, timezone)


def _format_date(ctx: Any, value: Any, fmt: Any, timezone: Any) -> Any:
    date = parse_date(value, timezone)
    if date is None:
        return value
    fmt = to_value(fmt)
    fmt = DEFAULT_FORMAT if is_nil(fmt) else stringify(fmt)
    ctx.use(utf16_length(fmt))
    return strftime(date, fmt, ctx.use)


def f_date_to_xmlschema(ctx: Any, value: Any, *args: Any) -> Any:
    ctx.use(js_add(_length_or_zero(value), 0))
    return _format_date(ctx, value, "%Y-%m-%dT%H:%M:%S%:z", UNDEFINED)


def f_date_to_rfc822(ctx: Any, value: Any, *args: Any) -> Any:
    date = parse_date(value)
    if date is None:
        return value
    return strftime(date, "%a, %d %b %Y %H:%M:%S %z", ctx.use)


def _stringify_date(month: str) -> Callable[..., Any]:
    def apply(ctx: Any, value: Any, *args: Any) -> Any:
        kind = args[0] if args else UNDEFINED
        style = args[1] if len(args) > 1 else UNDEFINED
        date = parse_date(value)
        if date is None:
            return value
        assert date.fields is not None
        if kind == "ordinal" and type(kind) is str:
            day = date.fields.day
            if style == "US" and type(style) is str:
                return strftime(date, f"{month} {day}%q, %Y", ctx.use)
            return strftime(date, f"{day}%q {month} %Y", ctx.use)
        return strftime(date, f"%d {month} %Y", ctx.use)

    return apply


f_date_to_string = _stringify_date("%b")
f_date_to_long_string = _stringify_date("%B")
