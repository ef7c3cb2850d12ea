"""When members enforce the council's decisions, and when their reports reach the hub.

A decision binds a member from the moment it reaches it: the link back from the hub,
an outage (the member catches up when it returns) and a delay its ledger standing
earns. A ``watch`` binds nobody; a recommended decision binds only the members that
take up recommendations.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from shieldwall.exercise import members as mmod
from shieldwall.exercise.timeline import Record, Run
from shieldwall.exercise.world import World


def _after_outage(
    m: mmod.Members, member: NDArray[np.int64], t: NDArray[np.float64]
) -> NDArray[np.float64]:
    """:meth:`~shieldwall.exercise.members.Members.after_outage` for many messages."""
    start, end = m.outage_start[member], m.outage_end[member]
    return np.asarray(np.where((start <= t) & (t < end), end, t), dtype=np.float64)


def arrival(
    m: mmod.Members, t: NDArray[np.float64], member: NDArray[np.int64]
) -> NDArray[np.float64]:
    """When reports sent at ``t`` reach the hub (an outbox holds them during an outage)."""
    return _after_outage(m, member, t) + m.uplink_s[member]


def arrival_one(m: mmod.Members, t: float, member: int) -> float:
    """:func:`arrival` for one report."""
    return m.after_outage(member, t) + float(m.uplink_s[member])


def effective(
    run: Run, world: World, rec: Record, members: NDArray[np.int64]
) -> NDArray[np.float64]:
    """When each member starts enforcing ``rec`` (inf: never)."""
    m = world.members
    t = _after_outage(
        m, members, rec.issued + m.downlink_s[members] + run.extra[rec.snapshot][members]
    )
    binds = np.ones(members.size, dtype=bool) if rec.applies is None else rec.applies[members]
    if rec.decision.recommended:
        binds &= m.adopts_recommended[members]
    if rec.decision.action == "watch":
        binds[:] = False
    return np.where(binds, t, np.inf)


def passes_throttle(position: NDArray[np.int64], every: int) -> NDArray[np.bool_]:
    """Which events a throttle lets through, by their position among the events of
    their (attacker, member) pair: the first, then one in ``every``."""
    return np.asarray(position % every == 0)


def protected(run: Run, world: World, src: int, mem: int, t: float) -> bool:
    """Whether a decision (ban or throttle) against ``src`` binds ``mem`` at ``t``."""
    recs = run.by_source.get(src)
    if not recs:
        return False
    one = np.array([mem], dtype=np.int64)
    return any(
        rec.issued <= t < rec.end and float(effective(run, world, rec, one)[0]) <= t for rec in recs
    )


def in_force(
    run: Run, world: World, src: int, mem: int, t: float, action: str
) -> tuple[float, float]:
    """(start, end) of the stretch of ``action`` decisions against ``src`` that ``mem``
    enforces at ``t``; chained decisions (one ending as the next starts) count as one.
    ``(t, t)`` when none is in force."""
    recs = run.by_source.get(src)
    if not recs:
        return t, t
    one = np.array([mem], dtype=np.int64)
    spans = sorted(
        (float(effective(run, world, rec, one)[0]), rec.end)
        for rec in recs
        if rec.decision.action == action and rec.end > t and rec.issued <= t
    )
    start, until = t, t
    for begin, stop in spans:
        if begin > until:
            break
        start, until = min(start, begin), max(until, stop)
    return start, until
