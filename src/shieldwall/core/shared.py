"""Shared addresses: proportionality for the users behind a NAT or CGNAT address.

Contract (as for the council): no I/O, no clock reads; time is an argument.

Members' agents count benign activity per source (successful logins, 2xx answers:
counts only, nothing personal) and report it with :meth:`Council.benign
<shieldwall.core.council.Council.benign>`. An address with at least ``[shared]
min_benign`` benign events reported within ``memory`` is *shared*: when the quorum is
reached on it, the treaty's ``[shared] response`` replaces the alliance-wide ban:

* ``local``: each reporting member gets a decision binding only itself (clause
  ``shared.local``); later reporters get theirs as they report. The users behind the
  address keep their access everywhere else.
* ``throttle``: the rung's ban becomes a throttle (clause ``shared.throttle``).
* ``shorter``: the ban lasts ``shorten`` times the rung's duration (``shared.shorter``).

The evidence table is bounded (:data:`KEPT` addresses, least recently reported
dropped first).
"""

from __future__ import annotations

from shieldwall.core.model import Decision
from shieldwall.core.state import Collector, CouncilState
from shieldwall.core.targets import Checked

KEPT = 100_000  # addresses with benign evidence kept


def note(st: CouncilState, target: str, count: int, now: float) -> None:
    """``count`` benign events from ``target`` (canonical) were reported at ``now``."""
    table = st.benign
    seen = table.pop(target, None)
    total = count
    if seen is not None and now - seen[1] <= st.treaty.shared.memory:
        total += seen[0]
    table[target] = (total, now)
    while len(table) > KEPT:
        table.popitem(last=False)


def is_shared(st: CouncilState, target: str, now: float) -> bool:
    """Whether the treaty treats ``target`` as shared (benign evidence within memory)."""
    rules = st.treaty.shared
    if not rules.enabled:
        return False
    seen = st.benign.get(target)
    return seen is not None and now - seen[1] <= rules.memory and seen[0] >= rules.min_benign


def respond(
    st: CouncilState,
    c: Checked,
    scenario: str,
    members: tuple[str, ...],
    now: float,
    out: Collector,
) -> list[Decision]:
    """The treaty's response to a quorum on the shared address ``c``."""
    rules = st.treaty.shared
    if rules.response == "throttle":
        return [
            st.decide(
                c, scenario, members, "shared.throttle", now, out, corroborated=True, throttle=True
            )
        ]
    if rules.response == "shorter":
        return [
            st.decide(
                c,
                scenario,
                members,
                "shared.shorter",
                now,
                out,
                corroborated=True,
                scale=rules.shorten,
            )
        ]
    issued = []
    for name in members:
        d = st.own.get((c.target, name))
        if d is None or d.expires_at <= now:
            issued.append(st.decide(c, scenario, (name,), "shared.local", now, out, own=name))
    return issued
