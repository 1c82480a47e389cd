"""The served process freezes its start-up heap; a reload lets the replaced objects go."""

from __future__ import annotations

import gc
import subprocess
import sys

from kameleoon_relay.heap import refreeze_heap

SCRIPT = """
import gc, weakref
from kameleoon_relay.heap import freeze_heap, refreeze_heap

class Node: pass

old = Node(); old.me = old; ref = weakref.ref(old)
freeze_heap()
del old
gc.collect()
assert ref() is not None, "a frozen cycle is out of the collector's reach"
refreeze_heap()
assert ref() is None, "after a reload it is collected"
assert gc.get_freeze_count() > 0
print("ok")
"""


def test_a_reload_lets_the_frozen_cycles_of_the_replaced_config_be_collected() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


def test_refreeze_does_nothing_where_nothing_was_frozen() -> None:
    assert gc.get_freeze_count() == 0
    refreeze_heap()
    assert gc.get_freeze_count() == 0
