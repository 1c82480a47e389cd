"""The relay's log lines: text on a terminal, one JSON object per line otherwise.

`configure_logging(level, "json" | "text" | "auto")` sets up the `kameleoon_relay`
logger and uvicorn's. Fields given with `extra={"fields": {...}}` become keys of the
JSON line (and `key=value` pairs of the text line); callers never pass credentials or
user ids there.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

FORMATS = ("auto", "json", "text")
_LOGGERS = ("kameleoon_relay", "uvicorn", "uvicorn.error", "uvicorn.access")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(levelname)s:     %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            text += "  " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return text


def resolve_format(fmt: str, stream: Any = None) -> str:
    """`auto`: text on a terminal, JSON when piped or collected."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    if fmt != "auto":
        return fmt
    stream = stream or sys.stderr
    return "text" if getattr(stream, "isatty", lambda: False)() else "json"


def configure_logging(level: str, fmt: str = "auto") -> str:
    """Send the relay's and uvicorn's lines to stderr in `fmt`; returns the format used."""
    chosen = resolve_format(fmt)
    # Neither format shows them, and delivery logs a line per outcome: not looked up.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter() if chosen == "json" else TextFormatter())
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
    logging.getLogger("kameleoon_relay").setLevel(level.upper())
    return chosen


def uvicorn_log_config() -> dict[str, Any]:
    """Tell uvicorn to keep the handlers set here instead of installing its own."""
    return {"version": 1, "incremental": True}
