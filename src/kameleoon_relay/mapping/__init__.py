"""Segment's mapping-kit: evaluate action mappings (`@path`, `@if`, ...) on events.

Behaves as `@segment/actions-core`'s `validate` and `transform` do; see
`compile_mapping` for the compiled form used by the pipeline.
"""

from kameleoon_relay.js.values import UNDEFINED
from kameleoon_relay.mapping.compile import compile_mapping
from kameleoon_relay.mapping.errors import MappingError, MappingEvaluationError
from kameleoon_relay.mapping.validate import validate_mapping

__all__ = [
    "UNDEFINED",
    "MappingError",
    "MappingEvaluationError",
    "compile_mapping",
    "validate_mapping",
]
