"""`@template`: mustache-like `{{path}}` placeholders, as the reference renders them.

Triple braces are replaced first, then double braces over the result (so a
value inserted by the first pass can itself be expanded by the second).
"""

from __future__ import annotations

import re
from typing import Any

from kameleoon_relay.js.strings import js_trim, to_js_string
from kameleoon_relay.js.values import UNDEFINED
from kameleoon_relay.mapping.paths import get

_TRIPLE = re.compile(r"\{\{\{([^}]+)\}\}\}")
_DOUBLE = re.compile(r"\{\{([^}]+)\}\}")


def render(template: str, data: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        value = get(data, js_trim(match.group(1)))
        return "" if value is None or value is UNDEFINED else to_js_string(value)

    if "{{" not in template:
        return template
    return _DOUBLE.sub(replace, _TRIPLE.sub(replace, template))
