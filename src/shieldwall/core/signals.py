"""The rules that turn one signal into a decision, a consultation or a dispute.

Collective treaties: quorum of distinct trusted members within the window (art5),
consultation below it (art4), invocation, unanimity with deliberation. Treaties
without collective action: self-defence, binding only the reporter. Below quorum (or
without collective action) a report may also raise an alert (core/alerts.py).
"""

from __future__ import annotations

from shieldwall.core import alerts, prefixes, shared
from shieldwall.core.members import Member
from shieldwall.core.model import Dispute, Signal
from shieldwall.core.state import Collector, CouncilState
from shieldwall.core.targets import OK, PROTECTED, Checked


def process(st: CouncilState, s: Signal, now: float, out: Collector) -> None:
    m = st.roster.members[s.member]
    if m.status != "active":
        out.refuse(s.member, s.target, f"member {s.member} is {m.status}: report not counted")
        return
    c = st.gate.check(s.target)
    if c.kind != OK:
        if c.kind == PROTECTED:
            out.disputes.append(Dispute(s.member, c.target, s.scenario, now, c.protected, c.reason))
        else:
            out.refuse(s.member, c.target, c.reason)
        return
    target = c.target
    sent = st.roster.note_signal(m, now)
    treaty = st.treaty
    if treaty.correlation.enabled:
        st.correlation.note(m.name, target, now)
    if treaty.collective == "none":
        _self_defence(st, m, c, s.scenario, now, out)
        alerts.raise_alert(st, m, c, s.scenario, now, out)
        return
    inv = treaty.invocation
    if (
        inv.automatic
        and sent >= inv.min_signals
        and m.invoked_until <= now
        and not st.roster.invocation_refusal(m, now)
    ):
        invoke(st, m, now, out, automatic=True)
    k = prefixes.counted(st, c)  # the prefix the report counts toward, or c itself
    held = st.held(c, now) or (k is not c and st.held(k, now))
    if held:
        out.refuse(s.member, target, held)
        return
    if m.invoked_until > now and m.name in st.roster.trusted:
        st.decide(c, s.scenario, (m.name,), "art5.invocation", now, out)
        return
    prefixes.note(st, k, c, now)
    reporters = st.recent.get(k.target)
    if reporters is None:
        reporters = st.recent[k.target] = {}
    reporters[m.name] = now
    cutoff = now - treaty.window
    trusted = st.roster.trusted
    count = 0
    stale: list[str] = []
    for name, at in reporters.items():
        if at < cutoff:
            stale.append(name)
        elif name in trusted:
            count += 1
    for name in stale:
        del reporters[name]
    if treaty.unanimity or count < treaty.quorum:  # below quorum: raised readiness
        alerts.raise_alert(st, m, c, s.scenario, now, out)
    if treaty.unanimity:
        _unanimity(st, m, c, s.scenario, reporters, now, out)
    elif count >= treaty.quorum:
        members = st.roster.members
        fresh = tuple(sorted(n for n in reporters if members[n].status == "active"))
        subject, clause = prefixes.subject(st, k, c, now)
        if shared.is_shared(st, subject.target, now):  # users behind it: proportionality
            shared.respond(st, subject, s.scenario, fresh, now, out)
            return
        d = st.decide(
            subject, s.scenario, fresh, clause or st.quorum_clause, now, out, corroborated=True
        )
        prefixes.settle(st, k, d, out)
        prefixes.widen(st, d, now, out)
    elif treaty.consultation.enabled:
        snap = st.book.join(k.target, s.scenario, m.name, now)
        if snap is not None:
            out.consultations.append(snap)
        else:
            out.refuse(
                s.member,
                target,
                f"{target} already reported by {s.member}: {count} of {treaty.quorum} "
                "trusted reporters, awaiting corroboration",
            )
    else:
        out.refuse(
            s.member,
            target,
            f"{target}: {count} of {treaty.quorum} trusted reporters within "
            f"{treaty.window:g}s; below quorum and the treaty opens no consultation",
        )


def _self_defence(
    st: CouncilState, m: Member, c: Checked, scenario: str, now: float, out: Collector
) -> None:
    d = st.own.get((c.target, m.name))
    if d is not None and d.expires_at > now:
        out.refuse(
            m.name,
            c.target,
            f"{c.target} is already decided for {m.name}: decision #{d.id} until {d.expires_at:g}",
        )
        return
    st.decide(c, scenario, (m.name,), "self-defence", now, out, own=m.name)


def _unanimity(
    st: CouncilState,
    m: Member,
    c: Checked,
    scenario: str,
    reporters: dict[str, float],
    now: float,
    out: Collector,
) -> None:
    """League: consult until every member in good standing (at least 2) has reported."""
    book = st.book
    snap = book.join(c.target, scenario, m.name, now)
    if snap is not None:
        out.consultations.append(snap)
    eligible = st.roster.trusted
    if len(eligible) < 2 or not all(name in reporters for name in eligible):
        if snap is None:
            out.refuse(
                m.name,
                c.target,
                f"{c.target}: awaiting every member in good standing ({len(eligible)}) to report",
            )
        return
    first = book.first(c.target)
    if first is None:  # pragma: no cover - join above always leaves one open
        return
    first.ready = True
    if first.opened_at + st.treaty.deliberation <= now:
        st.unanimous(first, now, out)
    else:
        book.ready[first.id] = first


def invoke(st: CouncilState, m: Member, now: float, out: Collector, *, automatic: bool) -> None:
    """Grant an invocation; open consultations ``m`` reported are decided at once."""
    st.roster.invoke(m, now)
    how = "automatically " if automatic else ""
    out.notices.append(
        f"member {m.name} {how}invoked collective defence until {m.invoked_until:g} "
        "(clause art5.invocation)"
    )
    book = st.book
    pending = sorted((c for c in book.by_id.values() if m.name in c.members), key=lambda c: c.id)
    for c in pending:
        if c.id not in book.by_id:
            continue  # closed by an earlier decision on the same target
        checked = st.gate.check(c.target)
        if checked.kind == OK and not st.held(checked, now):
            st.decide(checked, c.scenario, (m.name,), "art5.invocation", now, out)
