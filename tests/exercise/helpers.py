"""Hand-made campaigns and rosters small enough to compute results by hand."""

from __future__ import annotations

from typing import Any

import numpy as np

from shieldwall.core.treaty import load_template
from shieldwall.exercise import campaign as cmod
from shieldwall.exercise import members as mmod
from shieldwall.exercise.engine import run_treaty
from shieldwall.exercise.evaluate import evaluate
from shieldwall.exercise.metrics import TreatyResult
from shieldwall.exercise.timeline import Run
from shieldwall.exercise.world import Config, World
from tests.core.helpers import treaty

# A small exercise for command-line tests.
SMALL = ["--members", "24", "--events", "6000", "--sources", "150", "--quiet"]

# One attacker hits member 0 ten times (t=0..90, every 10 s), then member 1
# (t=100..130) and member 2 (t=1000, 1010).
RELAY = [
    (0, 0, [float(t) for t in range(0, 100, 10)]),
    (0, 1, [100.0, 110.0, 120.0, 130.0]),
    (0, 2, [1000.0, 1010.0]),
]


def tiny_campaign(
    pairs: list[tuple[int, int, list[float]]],
    members: int,
    *,
    users: dict[int, int] | None = None,
    innocents: list[int] | None = None,
    kinds: dict[int, int] | None = None,
    hosts: dict[int, int] | None = None,
) -> cmod.Campaign:
    """``pairs`` is (source, member, event times), source-major. Sources are correlated
    attackers unless ``kinds`` says otherwise; ``users`` puts benign users behind a
    source's address (shared NAT), hosted by the member ``hosts`` names."""
    n_src = max(p[0] for p in pairs) + 1
    counts = np.array([len(p[2]) for p in pairs], dtype=np.int64)
    src_users = np.zeros(n_src, dtype=np.int64)
    for s, u in (users or {}).items():
        src_users[s] = u
    src_kind = np.full(n_src, cmod.CORRELATED, dtype=np.int8)
    for s, k in (kinds or {}).items():
        src_kind[s] = k
    src_host = np.full(n_src, -1, dtype=np.int64)
    for s, h in (hosts or {}).items():
        src_host[s] = h
    inn = innocents or []
    return cmod.Campaign(
        params=cmod.CampaignParams(events=int(counts.sum()), sources=n_src),
        members=members,
        seed=0,
        groups=np.zeros(members, dtype=np.int64),
        src_kind=src_kind,
        src_addr=cmod.source_address(np.arange(n_src, dtype=np.int64)),
        src_users=src_users,
        src_host=src_host,
        src_start=np.zeros(n_src),
        pair_source=np.array([p[0] for p in pairs], dtype=np.int64),
        pair_member=np.array([p[1] for p in pairs], dtype=np.int64),
        pair_start_idx=np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64),
        pair_count=counts,
        ev_time=np.array([t for p in pairs for t in p[2]], dtype=np.float64),
        ev_pair=np.repeat(np.arange(len(pairs), dtype=np.int64), counts),
        innocent_addr=cmod.INNOCENT_BASE + np.arange(len(inn), dtype=np.int64) * 256 + 7,
        innocent_users=np.array(inn, dtype=np.int64),
    )


def tiny_members(
    count: int,
    *,
    maxretry: int = 2,
    rogue: tuple[int, ...] = (),
    free: tuple[int, ...] = (),
    collude: bool = False,
    self_defence: bool = False,
    self_defence_ban_s: float = 3_600.0,
) -> mmod.Members:
    """Members with no link delay, no outages, who never answer consultations in time.

    Local self-defence is off unless asked for, so that scenarios show the treaty alone.
    """
    params = mmod.MemberParams(
        rogue=len(rogue),
        collude=collude,
        self_defence=self_defence,
        self_defence_ban_s=self_defence_ban_s,
        free_rider_share=0.0,
        outage_share=0.0,
        delay_median_s=0.0,
        recommend_uptake=1.0,
        response_median_s=86_400.0,
    )
    mask = np.zeros(count, dtype=bool)
    mask[list(rogue)] = True
    fr = np.zeros(count, dtype=bool)
    fr[list(free)] = True
    return mmod.Members(
        params=params,
        names=tuple(f"m{i:04d}" for i in range(count)),
        networks=tuple(f"81.0.{i}.0/24" for i in range(count)),
        maxretry=np.full(count, maxretry, dtype=np.int64),
        free_rider=fr,
        rogue=mask,
        uplink_s=np.zeros(count),
        downlink_s=np.zeros(count),
        outage_start=np.full(count, np.inf),
        outage_end=np.full(count, np.inf),
        adopts_recommended=np.ones(count, dtype=bool),
        response_s=np.full(count, 86_400.0 * 30),
    )


def tiny_world(campaign: cmod.Campaign, members: mmod.Members, **config: object) -> World:
    settings: dict[str, object] = {"appeal_after_s": 0.0, **config}
    cfg = Config(members=members.count, **settings)  # type: ignore[arg-type]
    return World(cfg, campaign, members)


def played(world: World, template: str, **changes: Any) -> tuple[Run, TreatyResult]:
    """Run treaty template ``template`` on ``world``: the run and its metrics.

    ``changes`` alter the template's rules (``alert__enabled=False``, as in
    :func:`tests.core.helpers.treaty`).
    """
    run = run_treaty(world, treaty(template, **changes) if changes else load_template(template))
    return run, evaluate(run, world)
