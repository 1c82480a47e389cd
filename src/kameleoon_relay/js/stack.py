"""Room for the depths V8 reaches: a value or mapping too deep for Python's stack is
walked again on a thread with a deep one.

V8 runs the reference on about 1 MB of stack: it maps a plain-object mapping up to
about 1,800 levels deep and `@json`-encodes up to about 4,200 before it throws a
RangeError. Python's default limit is 1,000 frames. Rather than lower the relay's
limit below the reference's, the rare walk that overflows is run once more on a
thread with a large stack and a raised recursion limit, where the walkers' own
limit, MAX_NESTING, is met first and refuses with NestingTooDeepError naming it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kameleoon_relay.js.errors import NestingTooDeepError
from kameleoon_relay.js.values import MAX_NESTING

T = TypeVar("T")

_STACK_BYTES = 512 * 2**20  # reserved, not committed: only the pages a walk touches are used
# Python frames per level of the deepest walk (a mapping's resolvers nest a few a level).
_RECURSION_LIMIT = 40 * MAX_NESTING
_deep = threading.local()
_one_at_a_time = threading.Lock()  # the recursion limit is the interpreter's, not a thread's


def deep_call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """function(*args, **kwargs); run again on a deep stack if it overflows Python's."""
    try:
        return function(*args, **kwargs)
    except RecursionError:
        if getattr(_deep, "active", False):
            raise NestingTooDeepError(MAX_NESTING) from None
    return _on_deep_stack(function, args, kwargs)


def _on_deep_stack(function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
    outcome: list[Any] = []

    def target() -> None:
        _deep.active = True
        try:
            outcome.append((True, function(*args, **kwargs)))
        except RecursionError:
            outcome.append((False, NestingTooDeepError(MAX_NESTING)))
        except BaseException as error:  # handed to the caller's thread as it is
            outcome.append((False, error))

    with _one_at_a_time:
        previous_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(previous_limit, _RECURSION_LIMIT))  # before the thread starts
        previous_size = threading.stack_size(_STACK_BYTES)
        try:
            thread = threading.Thread(target=target, name="deep-walk", daemon=True)
            thread.start()
            thread.join()
        finally:
            threading.stack_size(previous_size)
            sys.setrecursionlimit(previous_limit)
    succeeded, value = outcome[0]
    if succeeded:
        return value  # type: ignore[no-any-return]
    raise value
