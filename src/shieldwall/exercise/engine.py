"""The exercise engine: drives the real council with a virtual clock.

The engine only models the world around the council: attackers (the campaign),
members' detectors, their links to the hub, outages, consultations answered from
their own logs, appeals by the owners of falsely banned addresses and vetoes by
permanent members protecting their own customers. Every decision comes from
:class:`shieldwall.core.council.Council`, the code the hub runs.

Signals are batched by time slice: everything that reaches the hub within one
``slice_s`` goes to one ``council.step`` at the end of that slice, as the hub does.
When the council has something due with no signal arriving (a unanimity
deliberation ends), the engine steps it at the end of that slice, as the hub's
ticker would.

With local self-defence on (the default), detectors are walked pair by pair in time
order (:class:`shieldwall.exercise.local.LocalDefence`). Without it the firings are
the precomputed ones of :func:`shieldwall.exercise.members.detect`, and the engine
drops those a decision in force would have prevented.

Alerts the council raises reach the members' detectors (self-defence mode); every
hour members report their exposure (attacks they had to report) to the ledger, and
the members hosting shared NAT addresses report their users' benign activity.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

from shieldwall.core.council import Council
from shieldwall.core.model import Outcome, Signal
from shieldwall.core.treaty import Treaty
from shieldwall.exercise import ipv6
from shieldwall.exercise import members as mmod
from shieldwall.exercise.enforce import arrival, arrival_one, protected
from shieldwall.exercise.local import LocalDefence
from shieldwall.exercise.timeline import (
    ALERT,
    APPEAL,
    DET,
    HOUR,
    JOINED,
    REPORT,
    SEEN,
    SIG,
    T0,
    TICK,
    VETO,
    Payload,
    Record,
    Run,
)
from shieldwall.exercise.world import World

SCENARIO = "exercise"

Progress = Callable[[float], None]


def admit(
    council: Council, names: list[str], permanent: int, networks: tuple[str, ...] = ()
) -> None:
    """Admit every member the way the treaty's accession rule requires.

    Each member declares its own network, as real members do, so that reports against
    it come back from the council as disputes. Under majority or unanimity accession
    the engine casts exactly the votes the rule needs (every active member, or one more
    than half of them) and checks the result once.
    """
    mode = council.treaty.accession
    for i, name in enumerate(names):
        declared = [networks[i]] if i < len(networks) else []
        council.apply(name, declared, JOINED, permanent=i < permanent)
        if mode == "admin" or i == 0:
            council.approve(name, JOINED, by="secretariat")
            continue
        voters = names[:i] if mode == "unanimity" else names[: i // 2 + 1]
        for voter in voters:
            council.vote(name, voter, True, JOINED)
        member = council.member(name)
        if member is None or member.status != "active":
            council.approve(name, JOINED, by="secretariat")


def check_roster(treaty: Treaty, members: int) -> None:
    """Refuse a treaty that names more permanent members than the exercise has."""
    fixed = len(treaty.veto.permanent) if treaty.veto.enabled else 0
    if fixed > members:
        raise ValueError(
            f"treaty {treaty.label} names {fixed} permanent members but the "
            f"exercise has {members} members: give at least {fixed} members"
        )


def run_treaty(world: World, treaty: Treaty, progress: Progress | None = None) -> Run:
    """Play the world's campaign against ``treaty``; the caller computes metrics."""
    c, m = world.campaign, world.members
    treaty = ipv6.council_treaty(treaty, m.params.prefix_counting)  # see exercise.ipv6
    council = Council(treaty)
    n = m.count
    names = list(m.names)
    check_roster(treaty, n)
    permanent = 0
    if treaty.veto.enabled:
        fixed = list(treaty.veto.permanent)
        names[: len(fixed)] = fixed
        permanent = len(fixed) or min(5, n)
    admit(council, names, permanent, m.networks)
    run = Run(council=council, treaty=treaty, names=names)
    run.index = {name: k for k, name in enumerate(names)}
    run.received = np.zeros(n, dtype=np.int64)
    run.exposed = np.zeros(n, dtype=np.int64)
    for name in names:  # every member's agent reports its exposure, none so far
        council.exposed(name, 0)
    benign_evidence(run, world, 0.0)
    run.extra.append(np.zeros(n))

    local = LocalDefence(run, world) if world.self_defence else None
    if local is not None:
        run.on_alert = local.alert
    if local is None:
        det_t, det_pair = world.detections.time, world.detections.pair
    else:  # firings are found as the run goes; only rogue reports are static
        det_t, det_pair = np.empty(0), np.empty(0, dtype=np.int64)
    det_member = c.pair_member[det_pair]
    det_source = c.pair_source[det_pair]
    rr = world.rogue
    # Static arrivals at the hub: detections, then rogue reports (outbox holds during outages).
    t_all = np.concatenate((det_t, rr.time))
    m_all = np.concatenate((det_member, rr.member))
    arrive = arrival(m, t_all, m_all)
    order = np.argsort(arrive, kind="stable")
    n_det = det_t.size
    slice_s = world.slice_s
    latest = float(arrive.max()) if arrive.size else 0.0
    if local is not None:
        latest = max(latest, local.latest())
        local.start()
    end_time = max(c.end, latest) + slice_s
    run.horizon = end_time + treaty.window  # answers to late consultations still count
    last = end_time
    next_hour = HOUR
    maxretry = m.maxretry
    invoke_ok = treaty.invocation.enabled
    recent: dict[int, list[float]] = {}
    arr_sorted = arrive[order]
    i = 0
    # What reaches the hub within the current slice (emptied at each slice).
    signals: list[Signal] = []
    later: list[tuple[int, Payload]] = []
    invokers: list[int] = []

    def report(mem: int, src: int, t: float) -> None:
        """A member's detector report reaches the hub in this slice."""
        text = world.source_text(src)
        signals.append(Signal(names[mem], text, SCENARIO, T0 + t, int(maxretry[mem])))
        if invoke_ok and wants_invocation(recent, mem, t, treaty):
            invokers.append(mem)

    while i < order.size or run.heap:
        nxt = min(
            arr_sorted[i] if i < order.size else math.inf, run.heap[0][0] if run.heap else math.inf
        )
        slice_end = (math.floor(nxt / slice_s) + 1) * slice_s
        while next_hour <= slice_end:
            hourly(run, world, next_hour)
            next_hour += HOUR
        signals.clear()
        later.clear()
        invokers.clear()
        while i < order.size and arr_sorted[i] < slice_end:
            j = int(order[i])
            i += 1
            mem = int(m_all[j])
            t = float(t_all[j])
            if j < n_det:
                src = int(det_source[j])
                if not protected(run, world, src, mem, t):
                    report(mem, src, t)
            else:
                signals.append(
                    Signal(names[mem], rogue_target(world, j - n_det), SCENARIO, T0 + t, 1)
                )
        while run.heap and run.heap[0][0] < slice_end:
            at, kind, _, payload = heapq.heappop(run.heap)
            if kind in (DET, SEEN, ALERT) and local is not None:
                local.handle(kind, payload, at)
            elif kind == REPORT:
                report(payload[0], payload[1], payload[3])
            elif kind == SIG:
                mem, _, target, t = payload
                signals.append(Signal(names[mem], target, SCENARIO, T0 + t, 1))
            elif kind != TICK:  # a TICK only makes this slice's step happen
                later.append((kind, payload))
        now = T0 + slice_end
        last = max(last, slice_end)
        absorb(run, world, council.step(signals, now), slice_end)
        for mem in invokers:
            absorb(run, world, council.invoke(names[mem], now), slice_end)
        for kind, payload in later:
            did, host = payload[0], payload[1]
            rec = run.by_id.get(did)
            if rec is None or rec.end <= slice_end:
                continue
            try:
                if kind == VETO:
                    out = council.veto(names[host], did, now)
                else:
                    out = council.revoke(
                        did, now, by="appellant", reason="benign users blocked", appeal=True
                    )
            except ValueError:
                continue
            absorb(run, world, out, slice_end)
        if progress is not None:
            progress(min(slice_end / end_time, 1.0))
    while next_hour <= last:
        hourly(run, world, next_hour)
        next_hour += HOUR
    absorb(run, world, council.tick(T0 + last), last)
    run.consultations = len(run.seen_consultations)
    return run


def rogue_target(world: World, k: int) -> str:
    """What rogue report ``k`` names: an invented innocent or a fellow member's address."""
    rr = world.rogue
    inn = int(rr.innocent[k])
    if inn >= 0 or rr.accused is None:
        return world.innocent_text(inn)
    return mmod.member_address(int(rr.accused[k]))


def wants_invocation(recent: dict[int, list[float]], mem: int, t: float, treaty: Treaty) -> bool:
    """A member under heavy attack invokes once it sent the treaty's minimum of reports."""
    times = recent.setdefault(mem, [])
    times.append(t)
    cutoff = t - treaty.window
    while times and times[0] < cutoff:
        times.pop(0)
    if len(times) >= treaty.invocation.min_signals:
        times.clear()
        return True
    return False


def absorb(run: Run, world: World, out: Outcome, now_rel: float) -> None:
    """Record what the council did and schedule the world's reactions to it."""
    c, m = world.campaign, world.members
    for d in out.decisions:
        src, inn = world.lookup(d.target)
        applies = None
        if d.applies_to:
            applies = np.zeros(m.count, dtype=bool)
            for name in d.applies_to:
                idx = run.index.get(name)
                if idx is not None:
                    applies[idx] = True
        users = (
            int(c.src_users[src]) if src >= 0 else (int(c.innocent_users[inn]) if inn >= 0 else 0)
        )
        rec = Record(
            d, d.issued_at - T0, d.expires_at - T0, src, inn, applies, len(run.extra) - 1, users
        )
        run.records.append(rec)
        run.by_id[d.id] = rec
        if src >= 0:
            run.by_source.setdefault(src, []).append(rec)
        if applies is None:
            run.received_all += 1
            if src >= 0 and run.exposed is not None:
                # Members whose detectors caught it first had an attack to report.
                np.add.at(run.exposed, world.caught_before(src, rec.issued), 1)
        elif run.received is not None:
            run.received += applies
        blocks = d.action != "watch"  # nobody notices, or appeals, a watch
        if users and blocks and world.appeal_after_s > 0 and run.treaty.appeals.enabled:
            run.push(rec.issued + world.appeal_after_s, APPEAL, (d.id, -1, "", 0.0))
        if src >= 0 and run.treaty.veto.enabled and not d.applies_to:
            host = int(c.src_host[src])
            if host >= 0 and world.is_permanent(run, host):
                run.push(rec.issued + float(m.response_s[host]), VETO, (d.id, host, "", 0.0))
    for a in out.alerts:
        src = world.lookup(a.target)[0]
        run.alerts.append((src, a))
        if src >= 0 and run.on_alert is not None:
            run.on_alert(src, a)
    for r in out.revocations:
        revoked = run.by_id.get(r.decision_id)
        if revoked is not None:
            revoked.end = min(revoked.end, r.at - T0)
        run.revocations += 1
    run.disputes += len(out.disputes)
    for cons in out.consultations:
        if cons.status != "open" or cons.id in run.seen_consultations:
            continue
        run.seen_consultations.add(cons.id)
        opened = cons.opened_at - T0
        corroborate(run, world, cons.target, set(cons.members), opened)
        if run.treaty.unanimity:  # the deliberation ends then, signals or not
            run.push(opened + run.treaty.deliberation, TICK, (cons.id, -1, "", 0.0))


def corroborate(run: Run, world: World, target: str, reporters: set[str], opened: float) -> None:
    """Members asked to corroborate answer from their own logs (rogues: from their plot)."""
    c, m = world.campaign, world.members
    src, inn = world.lookup(target)
    answer: list[int] = []
    if src >= 0:
        lo, hi = world.source_events(src)
        if hi > lo:
            times = c.ev_time[lo:hi]
            mem = c.pair_member[c.ev_pair[lo:hi]][times < opened]
            counts = np.bincount(mem, minlength=m.count)
            answer = [
                int(x)
                for x in np.flatnonzero((counts >= m.params.corroborate_min_events) & ~m.free_rider)
            ]
    elif inn >= 0 and m.params.collude:
        answer = [int(x) for x in np.flatnonzero(m.rogue)]
    for who in answer:
        if run.names[who] in reporters:
            continue
        t = arrival_one(m, opened + float(m.response_s[who]), who)
        run.push(t, SIG, (who, -1, target, t))


def benign_evidence(run: Run, world: World, now_rel: float) -> None:
    """Members report the benign activity they saw in the last hour (counts only).

    The benign users behind a shared NAT address are customers of the member hosting
    it (``src_host``): each logs in there about once an hour, so the host reports one
    benign event per user per hour. Free riders report it too: it shields their own
    customers, and a free rider is one that does not report attacks.
    """
    c = world.campaign
    hosts = np.flatnonzero((c.src_users > 0) & (c.src_host >= 0))
    for src in hosts.tolist():
        host = int(c.src_host[src])
        run.council.benign(
            run.names[host], world.source_text(src), int(c.src_users[src]), T0 + now_rel
        )


def hourly(run: Run, world: World, now_rel: float) -> None:
    """Report consumption, exposure (attacks each member had to report) and benign
    evidence to the council, and read standing (delays, suspensions)."""
    m = world.members
    council = run.council
    now = T0 + now_rel
    benign_evidence(run, world, now_rel)
    if run.received is not None:
        got = run.received + run.received_all
        for k in np.flatnonzero(got).tolist():
            council.received(run.names[k], int(got[k]))
        run.received[:] = 0
        run.received_all = 0
    if run.exposed is not None:
        for k in np.flatnonzero(run.exposed).tolist():
            council.exposed(run.names[k], int(run.exposed[k]))
        run.exposed[:] = 0
    extra = np.zeros(m.count)
    delay = run.treaty.burden.delay
    for idx, name in enumerate(run.names):
        state = council.member(name)
        if state is None or state.status != "active":
            extra[idx] = np.inf
            continue
        standing = council.standing(name, now)
        if standing == "delayed":
            extra[idx] = delay
        elif standing == "suspended":
            extra[idx] = np.inf
    if not np.array_equal(extra, run.extra[-1]):
        run.extra.append(extra)
