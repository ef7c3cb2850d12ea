"""Virtual members: their detectors, roles, links to the hub and outages.

Each member runs a fail2ban-style detector: it reports an attacker once ``maxretry``
events from that address fall within ``findtime`` seconds (fail2ban ships
maxretry=5, findtime=10 minutes; members here draw 3, 5 or 10). Some members never
report (free riders), some report innocent addresses (rogues, alone or colluding),
some go offline for a while (outages: their outbox holds signals and they receive
decisions late). Every member reaches the hub over a link with its own delay.

Local self-defence (the agent's ``self_defence`` policy, on by default): when a
member's own detector fires, the member bans the source on its own firewall at once
for ``self_defence_ban_s``, whatever the treaty decides. The ban drops the source's
events before they reach the logs, so the detector needs ``maxretry`` fresh events
after the ban to fire again. Free riders defend themselves too; they only never
report. :func:`candidates` gives, per (attacker, member) pair, the events at which
the detector could fire; the engine walks them in time order, because whether a
firing happens depends on the bans and decisions already in force.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shieldwall.exercise.campaign import Campaign, address_text, check_fields

MEMBER_BASE = 81 << 24  # member networks: one /24 each from 81.0.0.0 up


@dataclass(frozen=True)
class MemberParams:
    """How the members behave. Every field can be set from the command line."""

    rogue: int = 1
    collude: bool = False
    free_rider_share: float = 0.10
    outage_share: float = 0.05
    outage_s: float = 7_200.0
    delay_median_s: float = 0.25
    findtime_s: float = 600.0
    recommend_uptake: float = 0.5
    response_median_s: float = 300.0
    corroborate_min_events: int = 1
    throttle_pass_every: int = 10
    self_defence: bool = True
    self_defence_ban_s: float = 3_600.0
    # Detectors count IPv6 attackers per /64 as well (shieldwall.exercise.ipv6).
    prefix_counting: bool = True

    def __post_init__(self) -> None:
        for name in ("collude", "self_defence", "prefix_counting"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ValueError(f"{name}={value!r} is not a boolean: give true or false")
        check_fields(
            self,
            (
                (("rogue",), 0, 100_000),
                (("free_rider_share", "outage_share", "recommend_uptake"), 0.0, 1.0),
                (("outage_s",), 0.0, 30 * 86_400.0),
                (("delay_median_s",), 0.0, 3_600.0),
                (("findtime_s",), 1.0, 86_400.0),
                (("response_median_s",), 0.0, 86_400.0),
                (("corroborate_min_events", "throttle_pass_every"), 1, 1_000_000),
                (("self_defence_ban_s",), 1.0, 30 * 86_400.0),
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


THRESHOLDS = np.array([3, 5, 10], dtype=np.int64)
THRESHOLD_P = np.array([0.25, 0.5, 0.25])


@dataclass(frozen=True, eq=False)
class Members:
    """The roster. Arrays are indexed by member number; ``names[i]`` is its council name."""

    params: MemberParams
    names: tuple[str, ...]
    networks: tuple[str, ...]
    maxretry: NDArray[np.int64]
    free_rider: NDArray[np.bool_]
    rogue: NDArray[np.bool_]
    uplink_s: NDArray[np.float64]
    downlink_s: NDArray[np.float64]
    outage_start: NDArray[np.float64]
    outage_end: NDArray[np.float64]
    adopts_recommended: NDArray[np.bool_]
    response_s: NDArray[np.float64]

    @property
    def count(self) -> int:
        return len(self.names)

    def reports(self) -> NDArray[np.bool_]:
        """Members whose detectors report to the hub."""
        return ~self.free_rider

    def after_outage(self, member: int, t: float) -> float:
        """When a message a member sends or receives at ``t`` really gets through."""
        if self.outage_start[member] <= t < self.outage_end[member]:
            return float(self.outage_end[member])
        return t


def check_rogues(rogue: int, count: int) -> None:
    """Refuse more rogue members than there are members."""
    if rogue > count:
        raise ValueError(f"rogue={rogue} exceeds the {count} members: give at most {count} rogues")


def build(params: MemberParams, count: int, seed: int, duration_s: float) -> Members:
    check_rogues(params.rogue, count)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x3E]))
    order = rng.permutation(count)
    rogue = np.zeros(count, dtype=bool)
    rogue[order[: params.rogue]] = True
    free = np.zeros(count, dtype=bool)
    n_free = min(round(count * params.free_rider_share), count - params.rogue)
    free[order[params.rogue : params.rogue + n_free]] = True
    maxretry = rng.choice(THRESHOLDS, size=count, p=THRESHOLD_P)
    sigma = 0.8
    base = max(params.delay_median_s, 0.0)
    uplink = base * rng.lognormal(0.0, sigma, size=count)
    downlink = base * rng.lognormal(0.0, sigma, size=count)
    out = rng.random(count) < params.outage_share
    start = np.full(count, np.inf)
    end = np.full(count, np.inf)
    start[out] = rng.uniform(0.0, duration_s, size=int(out.sum()))
    end[out] = start[out] + params.outage_s
    adopts = rng.random(count) < params.recommend_uptake
    response = params.response_median_s * rng.lognormal(0.0, 0.5, size=count)
    names = tuple(f"m{i:04d}" for i in range(count))
    networks = tuple(f"{address_text(MEMBER_BASE + i * 256)}/24" for i in range(count))
    return Members(
        params=params,
        names=names,
        networks=networks,
        maxretry=maxretry,
        free_rider=free,
        rogue=rogue,
        uplink_s=uplink,
        downlink_s=downlink,
        outage_start=start,
        outage_end=end,
        adopts_recommended=adopts,
        response_s=response,
    )


@dataclass(frozen=True, eq=False)
class Detections:
    """Detector firings, at most one per (pair, findtime bucket), sorted by time."""

    time: NDArray[np.float64]
    pair: NDArray[np.int64]


def _windows(c: Campaign, m: Members) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Per event: whether it and the ``maxretry - 1`` events before it from the same
    source at the same member fall within ``findtime`` (nothing blocked), and the index
    of the first event of that window."""
    k = m.maxretry[c.pair_member[c.ev_pair]]
    back = np.arange(c.ev_time.size, dtype=np.int64) - (k - 1)
    ok = back >= c.pair_start_idx[c.ev_pair]
    back = np.maximum(back, 0)
    return ok & (c.ev_time - c.ev_time[back] <= m.params.findtime_s), back


def detect(c: Campaign, m: Members) -> Detections:
    """Where each member's detector would fire if nothing were blocked.

    An event fires when it and the ``maxretry - 1`` events before it from the same
    source at the same member fall within ``findtime``. After a report the member
    waits a findtime before reporting the same source again. The engine later drops
    firings that a decision already in force would have prevented.
    """
    if c.ev_time.size == 0:
        return Detections(np.empty(0), np.empty(0, dtype=np.int64))
    fire, _ = _windows(c, m)
    fire &= m.reports()[c.pair_member[c.ev_pair]]
    f_idx = np.flatnonzero(fire)
    f_pair = c.ev_pair[f_idx]
    f_time = c.ev_time[f_idx]
    if f_idx.size == 0:
        return Detections(np.empty(0), np.empty(0, dtype=np.int64))
    # Thin to one firing per findtime bucket, counted from the pair's first firing.
    new_pair = np.concatenate(([True], f_pair[1:] != f_pair[:-1]))
    first_t = f_time[new_pair][np.cumsum(new_pair) - 1]
    bucket = np.floor((f_time - first_t) / m.params.findtime_s).astype(np.int64)
    keep = new_pair | np.concatenate(([True], bucket[1:] != bucket[:-1]))
    t, pr = f_time[keep], f_pair[keep]
    order = np.argsort(t, kind="stable")
    return Detections(t[order], pr[order])


@dataclass(frozen=True, eq=False)
class Candidates:
    """Events at which a member's detector fires unless something stopped the source.

    Candidate ``k`` is event ``event[k]`` at ``time[k]``; ``back[k]`` is the time of the
    ``maxretry - 1``-th event before it at the same member. Candidates are grouped by
    pair (``lo[p]``..``hi[p]``) and, within a pair, ``back`` never decreases, so the
    first firing allowed after a ban ending at ``e`` is a binary search for ``e``.
    """

    event: NDArray[np.int64]
    time: NDArray[np.float64]
    back: NDArray[np.float64]
    lo: NDArray[np.int64]
    hi: NDArray[np.int64]

    def first(self, pair: int, not_before: float) -> int:
        """Index of the pair's first candidate whose window starts at ``not_before`` or
        later (events before it were blocked), or -1."""
        lo, hi = int(self.lo[pair]), int(self.hi[pair])
        k = lo + int(np.searchsorted(self.back[lo:hi], not_before, side="left"))
        return k if k < hi else -1


def candidates(c: Campaign, m: Members) -> Candidates:
    """Where each member's detector could fire, free riders included (see module doc)."""
    n = c.ev_time.size
    P = c.pair_source.size
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        zeros = np.zeros(P, dtype=np.int64)
        return Candidates(empty, np.empty(0), np.empty(0), zeros, zeros)
    fire, back = _windows(c, m)
    ev = np.flatnonzero(fire)
    pair = c.ev_pair[ev]
    bounds = np.searchsorted(pair, np.arange(P + 1, dtype=np.int64))
    return Candidates(
        event=ev,
        time=c.ev_time[ev],
        back=c.ev_time[back[ev]],
        lo=bounds[:-1].astype(np.int64),
        hi=bounds[1:].astype(np.int64),
    )


@dataclass(frozen=True, eq=False)
class RogueReports:
    """Addresses rogue members report, with the report time.

    ``innocent`` indexes ``Campaign.innocent_addr``; where it is -1 the report accuses
    the member ``accused`` instead (an address in that member's declared network).
    """

    time: NDArray[np.float64]
    member: NDArray[np.int64]
    innocent: NDArray[np.int64]  # index into Campaign.innocent_addr, or -1
    accused: NDArray[np.int64] | None = None  # member whose network is reported, or -1


def member_address(member: int) -> str:
    """An address inside member ``member``'s declared /24 (what a rogue would report)."""
    return address_text(MEMBER_BASE + member * 256 + 10)


def rogue_reports(c: Campaign, m: Members, seed: int) -> RogueReports:
    """Alone: each rogue reports its own innocents. Colluding: all report the same ones.

    Each rogue (or the colluding group together) also reports ``rogue_member_reports``
    addresses in other members' networks, which the council must refuse as disputes.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x60]))
    rogues = np.flatnonzero(m.rogue)
    none = np.empty(0, dtype=np.int64)
    if rogues.size == 0:
        return RogueReports(np.empty(0), none, none)
    collude, duration = m.params.collude, c.params.duration_s
    per = c.params.rogue_reports
    base = accusing = (np.empty(0), none, none)
    if per:
        base = _plot(rng, rogues, per, duration, collude)
    honest = np.flatnonzero(~m.rogue)
    if c.params.rogue_member_reports and honest.size:

        def accuse(n: int) -> NDArray[np.int64]:
            return honest[rng.integers(0, honest.size, size=n)]

        accusing = _plot(rng, rogues, c.params.rogue_member_reports, duration, collude, accuse)
    time = np.concatenate((base[0], accusing[0]))
    member = np.concatenate((base[1], accusing[1]))
    innocent = np.concatenate((base[2], np.full(accusing[0].size, -1, dtype=np.int64)))
    accused = np.concatenate((np.full(base[0].size, -1, dtype=np.int64), accusing[2]))
    order = np.argsort(time, kind="stable")
    return RogueReports(time[order], member[order], innocent[order], accused[order])


def _plot(
    rng: np.random.Generator,
    rogues: NDArray[np.int64],
    per: int,
    duration: float,
    collude: bool,
    pick: Callable[[int], NDArray[np.int64]] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """(time, rogue, target) of ``per`` reports by each rogue over the campaign.

    Alone, every rogue has targets of its own; colluding, all report the same ``per``
    targets, each a minute or so after the agreed time. Targets are ``pick(n)`` for
    ``n`` fresh ones, or by default the numbers 0, 1, 2, ... (indexes of innocents).
    """
    if collude:
        when = rng.uniform(0.0, duration, size=per)
        target = pick(per) if pick else np.arange(per, dtype=np.int64)
        member = np.tile(rogues, per)
        target = np.repeat(target, rogues.size)
        time = np.repeat(when, rogues.size) + rng.exponential(60.0, size=member.size)
    else:
        member = np.repeat(rogues, per)
        target = pick(member.size) if pick else np.arange(member.size, dtype=np.int64)
        time = rng.uniform(0.0, duration, size=member.size)
    return time, member, target
