"""What the liquid engine raises; the mapping stage turns each into a MappingError."""

from __future__ import annotations

from kameleoon_relay.errors import RelayError


class LiquidError(RelayError):
    """A template that fails the way liquidjs fails it."""


class LiquidSyntaxError(LiquidError):
    """The template does not parse (liquidjs's TokenizationError / ParseError)."""


class LiquidRenderError(LiquidError):
    """Rendering failed (liquidjs's RenderError)."""


class LiquidMemoryLimitError(LiquidError):
    """liquidjs's memory limit was exceeded (a per-event mapping error)."""


class LiquidFilterError(LiquidError):
    """A filter threw (a per-event mapping error)."""
