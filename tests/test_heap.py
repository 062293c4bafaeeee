"""settle_heap, in a process of its own: freezing would outlive the test otherwise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc, weakref
from hub.heap import YOUNG_THRESHOLD, settle_heap

class Node:
    pass

kept = Node(); kept.me = kept  # a cycle still in use
dropped = Node(); dropped.me = dropped  # a cycle nobody holds: start-up garbage
gone = weakref.ref(dropped)
del dropped
before = gc.get_freeze_count()
settle_heap()
print(gone() is None, gc.get_freeze_count() - before > 1000, gc.get_threshold()[0] == YOUNG_THRESHOLD,
      kept.me is kept)
"""


def test_start_up_garbage_is_freed_and_what_lives_on_is_frozen() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "True", "True", "True"]
