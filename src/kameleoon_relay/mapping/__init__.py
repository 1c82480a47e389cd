"""Segment's mapping-kit: evaluate action mappings (`@path`, `@if`, ...) on events.

Behaves as `@segment/actions-core`'s `validate` and `transform` do; see
`compile_mapping` for the compiled form used by the pipeline.
"""

from .compile import compile_mapping
from .errors import MappingError, MappingEvaluationError
from .jsvalues import UNDEFINED
from .validate import validate_mapping

__all__ = [
    "UNDEFINED",
    "MappingError",
    "MappingEvaluationError",
    "compile_mapping",
    "validate_mapping",
]
