"""Values the differential generators share: what the reference reads its own way."""

from __future__ import annotations

# Every way JSON spells a number, for @json decode: JSON.parse reads each as a double.
NUMBER_SPELLINGS = [
    "1e2",
    "1E2",
    "1E+2",
    "1.0",
    "2.50",
    "-0",
    "-0.0",
    "0e0",
    "1e400",
    "-1e400",
    "1e-400",
    "12345678901234567890",
    "123456789012345678901234",
    "9007199254740993",
    "1e21",
    "1e-7",
    "0.000001",
    "-1.5e-10",
    "007",
    "01",
    ".5",
    "5.",
    "+1",
    "0x10",
    '{"a": 1e2, "b": [-0.0, 1E400, 5.0], "2": 12345678901234567890}',
    "[1.0, 1e21, 1e-7, -1e400]",
]
# Depths at which the reference still maps (its stack overflows from about 1,800).
DEEP = (100, 331, 400, 1000)
