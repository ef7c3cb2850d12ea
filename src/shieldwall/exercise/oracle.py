"""The limit of collective defence on a world: the ``oracle`` reference row.

The oracle knows at once what any member's detector catches: every attacker is
blocked at every member from the moment the first detector anywhere fires on it
(free riders' detectors included: they catch, they only do not report), with no
link delay, no quorum and no false ban. The event on which that detector fires
reached its log and is absorbed; every later event of that attacker, at any member,
is blocked. No treaty can absorb fewer events on the same world, so the oracle
measures how much of the possible gain a treaty captures:

    possible_gain_captured = (unilateral absorbed - treaty absorbed)
                             / (unilateral absorbed - oracle absorbed)

1.0 means the treaty stops all it could; 0.0 means it adds nothing to members acting
alone. It is None when the comparison has no ``unilateral`` row or nothing was left
to gain.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from shieldwall.exercise import metrics as mx
from shieldwall.exercise.campaign import KIND_NAMES
from shieldwall.exercise.evaluate import series
from shieldwall.exercise.world import World

NAME = "oracle"
BASELINE = "unilateral"


def caught_at(world: World) -> NDArray[np.float64]:
    """Per source: when the first member's detector fires on it (inf: never)."""
    c = world.campaign
    out = np.full(c.src_kind.size, np.inf)
    np.minimum.at(out, c.pair_source, world.first_fire)
    return out


def oracle(world: World) -> mx.TreatyResult:
    """The oracle's figures, in the same fields as a treaty's."""
    c, m = world.campaign, world.members
    caught = caught_at(world)
    blocked = c.ev_time > caught[c.ev_source]
    n_blocked = int(blocked.sum())
    detected = world.detected()
    delays = mx.protection_delays(c.first_event(), caught, detected)
    multi = np.bincount(c.pair_source, minlength=c.src_kind.size) >= 2
    multi_delays = mx.protection_delays(c.first_event(), caught, detected & multi)
    free_p = mx.protection_rate(blocked, c.ev_member, m.free_rider)
    contrib_p = mx.protection_rate(blocked, c.ev_member, ~m.free_rider & ~m.rogue)
    kinds = c.src_kind[c.ev_source]
    multi_p50 = mx.rounded(mx.percentile(multi_delays, 50))
    multi_p95 = mx.rounded(mx.percentile(multi_delays, 95))
    return mx.TreatyResult(
        treaty=NAME,
        attacks_absorbed=int(blocked.size - n_blocked),
        attacks_blocked=n_blocked,
        blocked_share=round(n_blocked / max(blocked.size, 1), 4),
        protection_delay_p50_s=mx.rounded(mx.percentile(delays, 50)),
        protection_delay_p95_s=mx.rounded(mx.percentile(delays, 95)),
        protection_delay_multi_p50_s=multi_p50,
        protection_delay_multi_p95_s=multi_p95,
        protection_delay_multi_online_p50_s=multi_p50,
        protection_delay_multi_online_p95_s=multi_p95,
        protected_share=round(float(np.isfinite(delays).mean()) if delays.size else 0.0, 4),
        detected_attackers=int(detected.sum()),
        false_bans=0,
        false_ban_hours=0.0,
        false_ban_user_hours=0.0,
        rogue_false_bans=0,
        rogue_user_hours=0.0,
        decisions=int(np.isfinite(caught).sum()),
        consultations=0,
        disputes=0,
        revocations=0,
        contribution_gini=0.0,
        free_rider_protection=round(free_p, 4),
        contributor_protection=round(contrib_p, 4),
        free_rider_gain=round(free_p / contrib_p, 4) if contrib_p > 0 else 0.0,
        standing={},
        absorbed_by_kind={
            KIND_NAMES[k]: int(((kinds == k) & ~blocked).sum()) for k in range(len(KIND_NAMES))
        },
        series=series(c.ev_time[~blocked], c.end, delays, np.zeros(m.count)),
        self_defence=world.self_defence,
        possible_gain_captured=1.0,
    )


def gain_captured(baseline: int, treaty: int, limit: int) -> float | None:
    """Share of the possible gain (baseline - limit absorbed events) a treaty captured."""
    possible = baseline - limit
    if possible <= 0:
        return None
    return round((baseline - treaty) / possible, 4)


def with_gain(
    results: dict[str, mx.TreatyResult], limit: mx.TreatyResult
) -> dict[str, mx.TreatyResult]:
    """``results`` with each treaty's ``possible_gain_captured`` filled in (None without
    a ``unilateral`` row to measure from)."""
    base = results.get(BASELINE)
    if base is None:
        return results
    return {
        name: replace(
            r,
            possible_gain_captured=gain_captured(
                base.attacks_absorbed, r.attacks_absorbed, limit.attacks_absorbed
            ),
        )
        for name, r in results.items()
    }
