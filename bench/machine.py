"""What machine a benchmark ran on: figures are only meaningful next to this."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine_info() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }


def describe() -> str:
    """One line: `2 cores, AMD EPYC, Linux-..., Python 3.11.7, SQLite 3.40.1`."""
    info = machine_info()
    return (
        f"{info['cores']} cores, {info['cpu']}, {info['platform']}, "
        f"Python {info['python']}, SQLite {info['sqlite']}"
    )
