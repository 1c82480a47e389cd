"""JavaScript value semantics, in one place: what the reference's V8 does with JSON values.

Used by ingest (numbers and key order as JavaScript keeps them), FQL, mapping-kit,
payload validation and the liquid engine, so that each reads an event the way
Segment's code does. One job a module:

- `values`: the value model (UNDEFINED, built-in functions), type names, truthiness, depth;
- `numbers`: the one number type: printing, reading strings, JSON numbers;
- `strings`: UTF-16 lengths and units, `String(x)`, trim;
- `operators`: ToPrimitive, `Number(x)`, `+`, `<`, `===`;
- `members`: property reads, inherited members included;
- `objects`: key order and number identity of parsed JSON;
- `json_codec`: JSON.parse and JSON.stringify;
- `errors`: what these refuse.
"""
