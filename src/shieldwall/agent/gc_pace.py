"""The cyclic garbage collector's pace for a process that reads logs in bulk.

Detection makes and drops small containers per matched line (a line's record, its
event, a bucket), none of them in a reference cycle: reference counting frees each
at once. CPython starts a young collection every 700 new containers; in an attack
storm that is thousands a second, each walking the young objects, about a sixth of
detection time. With :data:`YOUNG` new containers between young collections they are
rare, and cycles (no line makes one) are still found: the older generations keep
their pace relative to it.
"""

from __future__ import annotations

import gc

YOUNG = 20_000


def pace_for_logs() -> None:
    """Collect the young generation every :data:`YOUNG` new containers (never more
    often than the process already does)."""
    young, middle, old = gc.get_threshold()
    if young:  # 0: collection is off, and stays so
        gc.set_threshold(max(young, YOUNG), middle, old)
