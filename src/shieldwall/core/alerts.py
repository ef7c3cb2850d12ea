"""Raised readiness: one report from a member in good standing puts its target on alert.

Contract (as for the council): no I/O, no clock reads; time is an argument, and the
same signals in the same order give the same alerts.

An alert blocks nobody. It is a record of its own (:class:`~shieldwall.core.model.Alert`,
clause ``"alert"``, ids of its own) that lasts the treaty's ``[alert] window`` from the
first report and is never extended. Members apply it to detection, not to the
firewall: their detectors meet an alerted source with the treaty's ``[alert]
maxretry`` (1: its first malicious line), so the next victim stops the attacker at
once and reports it, which completes the quorum. An innocent address a rogue reports
is on alert for a while and banned nowhere unless it really misbehaves.

An alert is raised when the treaty enables ``[alert]``, the reporter is trusted
(active, past probation, reputation at the threshold) and not flagged as a free
rider, and the target has neither a collective decision nor an alert in force. It is
not an offence (the ladder does not count it), not a contribution (the ledger does
not count it), and it neither opens nor closes a consultation. With ``[correlation]``
the alert names the reporter's most correlated members (clause ``alert.correlated``,
see :mod:`shieldwall.core.correlation`): they apply ``maxretry``, the others
``others_maxretry``. It is never a
decision, so feeds, the bouncer API and TAXII, which publish decisions, never carry it.
"""

from __future__ import annotations

import heapq

from shieldwall.core.members import Member
from shieldwall.core.model import Alert
from shieldwall.core.state import Collector, CouncilState
from shieldwall.core.targets import Checked


def refusal(st: CouncilState, m: Member, c: Checked, now: float) -> str:
    """Why ``m``'s report on ``c`` raises no alert ('' when it does)."""
    if not st.treaty.alert.enabled:
        return "the treaty raises no alerts"
    if m.name not in st.roster.trusted:
        return f"member {m.name} is not in good standing (probation or reputation)"
    flagged = st.flagged.get(m.name)
    if flagged is not None:
        return f"member {m.name} is {flagged} as a free rider"
    d = st.by_target.get(c.target)
    if d is not None and d.expires_at > now:
        return f"{c.target} is already decided: decision #{d.id}"
    a = st.alerts.get(c.target)
    if a is not None and a.expires_at > now:
        return f"{c.target} is already on alert: alert #{a.id} until {a.expires_at:g}"
    return ""


def raise_alert(
    st: CouncilState, m: Member, c: Checked, scenario: str, now: float, out: Collector
) -> Alert | None:
    """Put ``c`` on alert on ``m``'s report, when the treaty and ``m``'s standing allow."""
    if refusal(st, m, c, now):
        return None
    rules = st.treaty.alert
    corr = st.treaty.correlation
    near: tuple[str, ...] = ()
    if corr.enabled:
        near = st.correlation.nearest(m.name, corr.top, corr.min_shared)
    a = Alert(
        id=st.next_alert_id,
        target=c.target,
        scope=c.scope,
        scenario=scenario,
        member=m.name,
        issued_at=now,
        expires_at=now + rules.window,
        maxretry=rules.maxretry,
        treaty=st.treaty.label,
        clause="alert.correlated" if near else "alert",
        correlated=near,
        others_maxretry=(corr.others_maxretry or rules.maxretry) if near else rules.maxretry,
    )
    st.next_alert_id += 1
    st.alerts[c.target] = a
    heapq.heappush(st.alert_expiry, (a.expires_at, a.id, a.target))
    out.alerts.append(a)
    return a


def in_force(st: CouncilState, now: float) -> list[Alert]:
    """The alerts in force at ``now``, by id."""
    return sorted((a for a in st.alerts.values() if a.active(now)), key=lambda a: a.id)
