"""The root of the errors the package raises on purpose: `except RelayError` catches them.

Each stage has its own subclass (ConfigError, SpecError, FQLSyntaxError, MappingError,
PayloadValidationError, ReplayError, ...); most are also ValueErrors, as bad input is.
"""

from __future__ import annotations


class RelayError(Exception):
    """Something kameleoon-relay refused or could not do, with a message for people."""
