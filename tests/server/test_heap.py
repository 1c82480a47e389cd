"""The served process freezes its start-up heap and raises the young threshold."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc, weakref
from kameleoon_relay.heap import GC_YOUNG_THRESHOLD, tune_collector

class Node: pass

old = Node(); old.me = old; ref = weakref.ref(old)
tune_collector()
del old
gc.collect()
assert ref() is not None, "a frozen cycle is out of the collector's reach"
assert gc.get_freeze_count() > 0
assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
late = Node(); late.me = late; ref = weakref.ref(late)
del late
gc.collect()
assert ref() is None, "what is made after start-up is collected as usual"
print("ok")
"""


def test_the_start_up_heap_is_frozen_and_later_cycles_collected() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
