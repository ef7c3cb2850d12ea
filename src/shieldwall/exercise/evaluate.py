"""Turn one treaty's run into its metrics (see :mod:`shieldwall.exercise.metrics`).

An attack event is blocked once, whether a decision, the member's own local ban or
both stopped it. A local ban on an address that carries benign users is a false ban
of its own unless a decision binding that member on that address overlaps it (then
it is the same ban, as under ``unilateral``, where the council's self-defence clause
and the agent's local ban answer the same firing); only the hours no decision
already covers add to the benign user-hours.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from shieldwall.exercise import ipv6
from shieldwall.exercise import metrics as mx
from shieldwall.exercise.campaign import KIND_NAMES
from shieldwall.exercise.enforce import effective, passes_throttle
from shieldwall.exercise.timeline import T0, Run
from shieldwall.exercise.world import World


def blocked_events(run: Run, world: World) -> NDArray[np.bool_]:
    """Which attack events a decision in force at their member stopped."""
    c, m = world.campaign, world.members
    blocked = np.zeros(c.ev_time.size, dtype=bool)
    pass_every = m.params.throttle_pass_every
    for rec in run.records:
        if rec.source < 0 or rec.end <= rec.issued:
            continue
        lo, hi = world.source_events(rec.source)
        t = c.ev_time[lo:hi]
        window = (t >= rec.issued) & (t < rec.end)
        if not window.any():
            continue
        idx = np.flatnonzero(window)
        pair = c.ev_pair[lo:hi][idx]
        eff = effective(run, world, rec, c.pair_member[pair])
        hit = t[idx] >= eff
        if rec.decision.action == "throttle":
            hit &= ~passes_throttle(lo + idx - c.pair_start_idx[pair], pass_every)
        blocked[lo + idx[hit]] = True
    return blocked


def locally_blocked(run: Run, world: World) -> NDArray[np.bool_]:
    """Which attack events a member's own self-defence ban stopped."""
    c = world.campaign
    blocked = np.zeros(c.ev_time.size, dtype=bool)
    ban = world.self_defence_ban_s
    for pair, at in zip(run.local_pair, run.local_time, strict=True):
        lo = int(c.pair_start_idx[pair])
        times = c.ev_time[lo : lo + int(c.pair_count[pair])]
        a = lo + int(np.searchsorted(times, at, side="right"))
        b = lo + int(np.searchsorted(times, at + ban, side="left"))
        blocked[a:b] = True
    return blocked


def local_false_bans(run: Run, world: World) -> list[mx.FalseBan]:
    """Local bans on shared (NAT) addresses, net of decisions binding the same member."""
    c, m = world.campaign, world.members
    ban = world.self_defence_ban_s
    out: list[mx.FalseBan] = []
    share = 1.0 / max(m.count, 1)
    for pair, at in zip(run.local_pair, run.local_time, strict=True):
        src = int(c.pair_source[pair])
        users = int(c.src_users[src])
        if users <= 0:
            continue
        mem = np.array([int(c.pair_member[pair])], dtype=np.int64)
        covered = sorted(
            (rec.issued, rec.end)
            for rec in run.by_source.get(src, [])
            if rec.decision.action != "watch"
            and rec.end > at
            and rec.issued < at + ban
            and np.isfinite(effective(run, world, rec, mem)[0])
        )
        left, cursor = 0.0, at
        for start, stop in covered:
            if start > cursor:
                left += min(start, at + ban) - cursor
            cursor = max(cursor, stop)
            if cursor >= at + ban:
                break
        left += max(at + ban - cursor, 0.0)
        if left <= 0.0:
            continue
        out.append(
            mx.FalseBan(
                world.source_text(src), users * share, at, at + left, False, counted=not covered
            )
        )
    return out


def protected_at(run: Run, world: World, online_only: bool = False) -> NDArray[np.float64]:
    """Per source: earliest time every receiving member enforces a decision against it.

    ``online_only`` leaves out members that were offline when the decision was issued.
    """
    c, m = world.campaign, world.members
    out = np.full(c.src_kind.size, np.inf)
    everyone = np.arange(m.count, dtype=np.int64)
    for rec in run.records:
        if rec.source < 0 or rec.applies is not None or rec.decision.action == "watch":
            continue
        receiving = np.isfinite(run.extra[rec.snapshot])
        if online_only:
            receiving &= ~((m.outage_start <= rec.issued) & (rec.issued < m.outage_end))
        eff = effective(run, world, rec, everyone)[receiving]
        full = float(eff.max()) if eff.size else np.inf
        if full < rec.end:
            out[rec.source] = min(out[rec.source], full)
    return out


def evaluate(run: Run, world: World) -> mx.TreatyResult:
    c, m = world.campaign, world.members
    end = c.end
    by_treaty = blocked_events(run, world)
    local = locally_blocked(run, world)
    blocked = by_treaty | local
    ev_member = c.ev_member
    absorbed_times = c.ev_time[~blocked]
    first_event = c.first_event()
    detected = world.detected()
    done = protected_at(run, world)
    delays = mx.protection_delays(first_event, done, detected)
    multi = np.bincount(c.pair_source, minlength=c.src_kind.size) >= 2
    multi_delays = mx.protection_delays(first_event, done, detected & multi)
    online = mx.protection_delays(first_event, protected_at(run, world, True), detected & multi)

    bans = []
    for rec in run.records:
        if rec.users <= 0 or rec.decision.action == "watch":
            continue
        binding = np.isfinite(effective(run, world, rec, np.arange(m.count, dtype=np.int64)))
        scope = float(binding.mean())
        if scope == 0:
            continue
        bans.append(
            mx.FalseBan(
                rec.decision.target, rec.users * scope, rec.issued, rec.end, rec.innocent >= 0
            )
        )
    bans.extend(local_false_bans(run, world))
    fb = mx.false_ban_summary(bans)

    ledger = run.council.ledger(T0 + end)
    index = {n: i for i, n in enumerate(run.names)}
    contribution = np.zeros(m.count)
    standing: dict[str, int] = {}
    for entry in ledger:
        i = index.get(entry.member)
        if i is not None:
            contribution[i] = entry.contribution
        standing[entry.standing] = standing.get(entry.standing, 0) + 1
    free_p = mx.protection_rate(blocked, ev_member, m.free_rider)
    contrib_p = mx.protection_rate(blocked, ev_member, ~m.free_rider & ~m.rogue)
    kinds = c.src_kind[c.ev_source]
    absorbed_by_kind = {
        KIND_NAMES[k]: int(((kinds == k) & ~blocked).sum()) for k in range(len(KIND_NAMES))
    }
    plots = series(absorbed_times, end, delays, contribution)
    n_blocked = int(blocked.sum())
    return mx.TreatyResult(
        treaty=run.treaty.name,
        attacks_absorbed=int(blocked.size - n_blocked),
        attacks_blocked=n_blocked,
        blocked_share=round(n_blocked / max(blocked.size, 1), 4),
        protection_delay_p50_s=mx.rounded(mx.percentile(delays, 50)),
        protection_delay_p95_s=mx.rounded(mx.percentile(delays, 95)),
        protection_delay_multi_p50_s=mx.rounded(mx.percentile(multi_delays, 50)),
        protection_delay_multi_p95_s=mx.rounded(mx.percentile(multi_delays, 95)),
        protection_delay_multi_online_p50_s=mx.rounded(mx.percentile(online, 50)),
        protection_delay_multi_online_p95_s=mx.rounded(mx.percentile(online, 95)),
        protected_share=round(float(np.isfinite(delays).mean()) if delays.size else 0.0, 4),
        detected_attackers=int(detected.sum()),
        false_bans=int(fb["false_bans"]),
        false_ban_hours=float(fb["false_ban_hours"]),
        false_ban_user_hours=float(fb["false_ban_user_hours"]),
        rogue_false_bans=int(fb["rogue_false_bans"]),
        rogue_user_hours=float(fb["rogue_user_hours"]),
        decisions=len(run.records),
        consultations=run.consultations,
        disputes=run.disputes,
        revocations=run.revocations,
        contribution_gini=round(mx.gini(contribution), 4),
        free_rider_protection=round(free_p, 4),
        contributor_protection=round(contrib_p, 4),
        free_rider_gain=round(free_p / contrib_p, 4) if contrib_p > 0 else 0.0,
        standing=standing,
        absorbed_by_kind=absorbed_by_kind,
        series=plots,
        self_defence=world.self_defence,
        local_bans=len(run.local_pair),
        blocked_locally_only=int((local & ~by_treaty).sum()),
        alerts=len(run.alerts),
        alert_firings=run.alert_firings,
        absorbed_ipv6=ipv6.absorbed(c, blocked),
    )


def series(
    absorbed_times: np.ndarray, end: float, delays: np.ndarray, contribution: np.ndarray
) -> dict[str, Any]:
    t, cum = mx.cumulative(absorbed_times, end)
    finite = np.sort(delays[np.isfinite(delays)])
    n = max(delays.size, 1)
    if finite.size > 200:
        pick = np.linspace(0, finite.size - 1, 200).astype(np.int64)
    else:
        pick = np.arange(finite.size)
    ecdf_x = [max(float(finite[k]), 0.1) for k in pick]
    ecdf_y = [round(100.0 * (k + 1) / n, 3) for k in pick]
    order = np.sort(contribution)
    cum_c = np.concatenate(([0.0], np.cumsum(order)))
    total = float(cum_c[-1]) or 1.0
    pts = np.linspace(0, order.size, min(order.size, 100) + 1).astype(np.int64)
    return {
        "cumulative": {"t_h": [round(x / 3600.0, 4) for x in t], "absorbed": cum},
        "delay_ecdf": {"delay_s": ecdf_x, "share_pct": ecdf_y},
        "lorenz": {
            "members_pct": [round(100.0 * p / max(order.size, 1), 3) for p in pts],
            "contribution_pct": [round(100.0 * float(cum_c[p]) / total, 3) for p in pts],
        },
    }
