"""The recorded inputs, each with its signals, read in order: what every replay applies.

From the store a page at a time (:func:`recorded`), so memory holds one page, not the
whole log; inputs pruned by retention come back from the archive files instead
(:func:`shieldwall.hub.archive.archived`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from shieldwall.core.model import Signal
from shieldwall.store.base import Store

PAGE = 2000  # recorded inputs read per round trip during a replay

Recorded = tuple[int, float, str, dict[str, Any], list[Signal]]  # seq, at, kind, payload


def recorded(store: Store, after: int, upto: int | None = None) -> Iterator[Recorded]:
    """Recorded inputs with ``after < seq <= upto`` (None: all), each with its signals."""
    while True:
        rows = store.inputs_after(after, PAGE)
        if upto is not None:
            rows = [r for r in rows if r[0] <= upto]
        if not rows:
            return
        grouped: dict[int, list[Signal]] = {}
        if any(r[2] == "signals" for r in rows):
            for seq, s in store.signals_between(after, rows[-1][0]):
                grouped.setdefault(seq, []).append(s)
        for seq, at, kind, text in rows:
            yield seq, at, kind, json.loads(text), grouped.get(seq, [])
        after = rows[-1][0]
        if upto is not None and after >= upto:
            return
