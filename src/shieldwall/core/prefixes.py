"""Attackers that own a prefix: reports counted per prefix, decisions widened step by step.

An IPv6 host usually controls a whole /64 and can pick a new address for every
attempt; counting reporters per address would never reach quorum against it. With
``[targets] prefix_v6 = 64`` every report on an IPv6 address counts toward the /64
that holds it: two members reporting two addresses of one /64 make a quorum, and
because more than one address took part the decision covers the /64 (clause
``targets.prefix``). Reports that all name one address still decide that address.

When ``widen_after`` decided prefixes lie inside one wider prefix of
``[targets] widen_v6`` (/56, then /48), the alliance decides the wider prefix too
(clause ``targets.widen``), one step at a time, never broader than ``max_range_v6``
and never over protected, member or special-purpose space: a wider prefix the gate
refuses stops the widening there. IPv4 uses the same machinery (``prefix_v4``,
``widen_v4``), off by default.

No I/O, no clock: everything happens inside the council's step.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from shieldwall.core.targets import OK, Checked

if TYPE_CHECKING:
    from shieldwall.core.model import Decision
    from shieldwall.core.state import Collector, CouncilState

SPREAD_KEPT = 8  # addresses remembered per counted prefix: two already tell "several"


def _length(st: CouncilState, version: int) -> int:
    rules = st.treaty.targets
    return rules.prefix_v6 if version == 6 else rules.prefix_v4


def _prefix_text(c: Checked, length: int) -> str:
    bits = 128 if c.version == 6 else 32
    first = c.first & ~((1 << (bits - length)) - 1)
    net = (
        ipaddress.ip_network((first, length))
        if c.version == 4
        else ipaddress.IPv6Network((first, length))
    )
    return net.with_prefixlen


def counted(st: CouncilState, c: Checked) -> Checked:
    """What reports on ``c`` count toward: the prefix holding it, or ``c`` itself.

    ``c`` itself when prefix counting is off for its family, the treaty allows no
    ranges, ``c`` is already that wide, or the prefix is not a valid target
    (protected, a member's, special-purpose): then addresses are counted one by one.
    """
    length = _length(st, c.version)
    if not st.treaty.targets.allow_ranges or c.prefixlen <= length:
        return c
    k = st.gate.check(_prefix_text(c, length))
    return k if k.kind == OK else c


def note(st: CouncilState, k: Checked, c: Checked, now: float) -> None:
    """Remember that ``c`` was reported as part of ``k`` (for :func:`subject`).

    A report that names the prefix itself (a member's detector saw several of its
    addresses) is remembered too: it is evidence about the whole prefix.
    """
    if k is c and c.scope != "range":
        return
    seen = st.spread.get(k.target)
    if seen is None:
        seen = st.spread[k.target] = {}
    if c.target in seen or len(seen) < SPREAD_KEPT:
        seen[c.target] = now


def subject(st: CouncilState, k: Checked, c: Checked, now: float) -> tuple[Checked, str]:
    """What to decide once ``k`` has its quorum, and the clause to cite.

    The prefix when several of its addresses, a range inside it or the prefix itself
    were reported within the window; the reported address otherwise.
    """
    if k is c:
        return c, ""
    cutoff = now - st.treaty.window
    seen = [t for t, at in st.spread.get(k.target, {}).items() if at >= cutoff]
    if len(seen) > 1 or c.scope == "range":
        return k, "targets.prefix"
    return c, ""


def settle(st: CouncilState, k: Checked, d: Decision, out: Collector) -> None:
    """After a decision on ``d.target`` counted as ``k``: close what was open on ``k``."""
    if k.target != d.target:
        st.recent.pop(k.target, None)
        if k.target in st.book.by_target:
            out.consultations.extend(st.book.close_target(k.target, d.id, d.scenario, d.members))
    st.spread.pop(k.target, None)


def widen(st: CouncilState, d: Decision, now: float, out: Collector) -> None:
    """Decide wider prefixes while enough decided prefixes lie inside them."""
    rules = st.treaty.targets
    child = st.gate.check(d.target)
    if child.kind != OK or child.scope != "range" or not rules.allow_ranges:
        return
    steps = rules.widen_v6 if child.version == 6 else rules.widen_v4
    for length in steps:
        if length >= child.prefixlen:
            continue
        parent = _prefix_text(child, length)
        ids = st.children.setdefault(parent, set())
        ids.add(d.id)
        live = [st.decisions[i] for i in sorted(ids) if _live(st, i, now)]
        ids.intersection_update(x.id for x in live)
        if len(live) < rules.widen_after:
            return
        wider = st.gate.check(parent)
        if wider.kind != OK or st.held(wider, now):
            return  # protected, a member's or special space inside: the widening stops
        members = tuple(sorted({m for x in live for m in x.members}))
        d = st.decide(wider, d.scenario, members, "targets.widen", now, out, corroborated=True)
        out.notices.append(
            f"{parent} decided (#{d.id}): {len(live)} decided prefixes inside it "
            f"(clause targets.widen, widen_after = {rules.widen_after})"
        )
        child = wider


def _live(st: CouncilState, decision_id: int, now: float) -> bool:
    d = st.decisions.get(decision_id)
    return (
        d is not None
        and d.expires_at > now
        and decision_id not in st.revocations
        and st.by_target.get(d.target) is d
    )
