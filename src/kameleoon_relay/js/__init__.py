"""JavaScript value semantics, in one place: what the reference's V8 does with JSON values.

Used by ingest (numbers and key order as JavaScript keeps them), FQL, mapping-kit
and the liquid engine, so that each reads an event the way Segment's code does.
"""
