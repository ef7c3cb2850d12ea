"""Attack campaigns against the alliance, generated with NumPy in one vectorised pass.

Defaults follow Katti, Krishnamurthy and Katabi, "Collaborating Against Common
Enemies" (IMC 2005): about 20% of offending sources attack several networks and
they produce over 40% of the alerts; those correlated attacks reach the other
networks within a few minutes; and networks fall into small, stable correlation
groups of 4-6 that see the same attackers. On top of that measured core the model
adds the attackers collective defence has to cope with: targeted single-victim
attackers, low-and-slow attackers that stay under every detector's threshold,
attackers behind shared NAT/CGNAT addresses that also carry benign users, and the
innocent addresses that rogue members report.

Everything is a NumPy array; nothing here knows about the council.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Source kinds.
CORRELATED, LOW_SLOW, TARGETED, OPPORTUNISTIC = 0, 1, 2, 3
KIND_NAMES = ("correlated", "low-and-slow", "targeted", "opportunistic")

ATTACKER_BASE = 23 << 24  # attackers get one address per /24 from 23.0.0.0 up
INNOCENT_BASE = 91 << 24  # innocent addresses that rogue members report
MAX_SOURCES = 1_000_000
SHARES = (
    "multi_source_share",
    "multi_event_share",
    "cross_group_share",
    "targeted_share",
    "low_slow_share",
    "nat_share",
    "ipv6_share",
)
GAPS = ("spread_mean_s", "low_slow_gap_s", "burst_gap_s", "targeted_gap_s", "opportunistic_gap_s")


@dataclass(frozen=True)
class CampaignParams:
    """What attacks the alliance. Every field can be set from the command line."""

    events: int = 100_000
    sources: int = 2_000
    duration_s: float = 86_400.0
    # Katti et al. 2005: 20% of sources attack several networks, >40% of alerts.
    multi_source_share: float = 0.20
    multi_event_share: float = 0.42
    # ... in stable correlation groups of 4-6 networks, within a few minutes.
    group_min: int = 4
    group_max: int = 6
    spread_mean_s: float = 180.0
    cross_group_share: float = 0.10
    # Attackers collective defence must also face.
    targeted_share: float = 0.10
    low_slow_share: float = 0.04
    low_slow_gap_s: float = 1_800.0
    low_slow_events: int = 8
    nat_share: float = 0.05
    nat_users: int = 50
    burst_gap_s: float = 6.0
    targeted_gap_s: float = 2.0
    opportunistic_gap_s: float = 30.0
    # Innocent addresses rogue members report (per rogue, or shared when colluding).
    rogue_reports: int = 20
    innocent_users: int = 5
    # Reports by each rogue against addresses in other members' declared networks.
    rogue_member_reports: int = 5
    # IPv6 attackers rotating through addresses of their own /64 (shieldwall.exercise.ipv6).
    ipv6_share: float = 0.0
    ipv6_addresses: int = 16

    def __post_init__(self) -> None:
        check_fields(
            self,
            (
                (("events",), 1, 100_000_000),
                (("sources",), 1, MAX_SOURCES),
                (("duration_s",), 1.0, 365 * 86_400.0),
                (SHARES, 0.0, 1.0),
                (("group_min",), 2, 1000),
                (("group_max",), self.group_min, 1000),
                (GAPS, 0.001, 86_400.0),
                (("low_slow_events",), 1, 10_000),
                (("nat_users", "innocent_users"), 1, 1_000_000),
                (("rogue_reports", "rogue_member_reports"), 0, 100_000),
                (("ipv6_addresses",), 1, 65_536),
            ),
        )
        if self.low_slow_share > self.multi_source_share:
            raise ValueError(
                f"low_slow_share {self.low_slow_share} exceeds multi_source_share "
                f"{self.multi_source_share}: low-and-slow attackers are part of the "
                "multi-network share, lower low_slow_share"
            )
        if self.multi_source_share + self.targeted_share > 1.0:
            raise ValueError(
                f"multi_source_share + targeted_share = "
                f"{self.multi_source_share + self.targeted_share:.2f} exceeds 1: lower one"
            )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Limits = tuple[tuple[tuple[str, ...], float, float], ...]


def check_fields(obj: object, limits: Limits) -> None:
    """Check fields of ``obj`` against ``(names, lo, hi)`` ranges: whole numbers where
    both bounds are integers, any number otherwise."""
    for names, lo, hi in limits:
        for name in names:
            value = getattr(obj, name)
            if isinstance(lo, int) and isinstance(hi, int):
                _check_int(name, value, lo, hi)
            else:
                _check_float(name, value, lo, hi)


def _check_int(name: str, value: object, lo: int, hi: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} is out of range: give an integer from {lo} to {hi}")


def _check_float(name: str, value: object, lo: float, hi: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} is out of range: give a number from {lo} to {hi}")


def truth(raw: str) -> bool | None:
    """``true``, ``1``, ``yes`` or ``false``, ``0``, ``no`` (any case) as a boolean;
    None for anything else."""
    word = raw.lower()
    if word in ("true", "1", "yes"):
        return True
    if word in ("false", "0", "no"):
        return False
    return None


def coerce(cls: type, overrides: dict[str, str]) -> dict[str, Any]:
    """Convert ``key=value`` strings to the field types of dataclass ``cls``."""
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, raw in overrides.items():
        if key not in known:
            raise ValueError(f"unknown parameter {key!r}: choose one of {', '.join(sorted(known))}")
        kind = known[key].type
        try:
            if kind in ("bool", bool):
                value = truth(raw)
                if value is None:
                    raise ValueError(raw)
                out[key] = value
            elif kind in ("int", int):
                out[key] = int(raw)
            else:
                out[key] = float(raw)
        except ValueError:
            raise ValueError(
                f"parameter {key}={raw!r} is not a valid {kind}: give e.g. {key}="
                f"{getattr(cls(), key) if _has_defaults(cls) else 1}"
            ) from None
    return out


def _has_defaults(cls: type) -> bool:
    try:
        cls()
    except TypeError:
        return False
    return True


@dataclass(frozen=True, eq=False)
class Campaign:
    """A generated campaign. Events are sorted by (pair, time); pairs by (source, member).

    ``pair_source``/``pair_member`` name each (attacker, victim) pair; ``ev_pair`` and
    ``ev_time`` hold every attack event. Sources carry an integer IPv4 address, a kind
    and the number of benign users behind the address (0 unless it is shared NAT);
    IPv6 sources (``src_v6``) are named by ``src_text`` instead (see
    :mod:`shieldwall.exercise.ipv6`).
    """

    params: CampaignParams
    members: int
    seed: int
    groups: NDArray[np.int64]  # group index of each member
    src_kind: NDArray[np.int8]
    src_addr: NDArray[np.int64]
    src_users: NDArray[np.int64]
    src_host: NDArray[np.int64]  # member whose customers share a NAT address, else -1
    src_start: NDArray[np.float64]
    pair_source: NDArray[np.int64]
    pair_member: NDArray[np.int64]
    pair_start_idx: NDArray[np.int64]
    pair_count: NDArray[np.int64]
    ev_time: NDArray[np.float64]
    ev_pair: NDArray[np.int64]
    innocent_addr: NDArray[np.int64]
    innocent_users: NDArray[np.int64]
    src_v6: NDArray[np.bool_] | None = None  # None: every source is IPv4
    src_text: dict[int, str] = field(default_factory=dict)  # IPv6 sources' targets

    @property
    def ev_source(self) -> NDArray[np.int64]:
        return self.pair_source[self.ev_pair]

    @property
    def ev_member(self) -> NDArray[np.int64]:
        return self.pair_member[self.ev_pair]

    @property
    def end(self) -> float:
        return float(self.ev_time.max()) if self.ev_time.size else self.params.duration_s

    def first_event(self) -> NDArray[np.float64]:
        """Per source: the time of its first event anywhere (inf: it sent none)."""
        out = np.full(self.src_kind.size, np.inf)
        np.minimum.at(out, self.ev_source, self.ev_time)
        return out


def address_text(addr: int) -> str:
    return f"{addr >> 24 & 255}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}"


def source_address(index: NDArray[np.int64]) -> NDArray[np.int64]:
    """One address per /24 so that no two attackers share a range by accident."""
    return ATTACKER_BASE + index * 256 + 1 + (index * 37) % 250


def correlation_groups(
    members: int, lo: int, hi: int, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Partition members into stable groups of ``lo``..``hi`` (the last may absorb a rest)."""
    sizes: list[int] = []
    total = 0
    draws = rng.integers(lo, hi + 1, size=members // lo + 2)
    for s in draws:
        if total >= members:
            break
        sizes.append(int(s))
        total += int(s)
    overflow = total - members
    sizes[-1] -= overflow
    if len(sizes) > 1 and sizes[-1] < lo:
        rest = sizes.pop()
        sizes[-1] += rest
    labels = np.repeat(np.arange(len(sizes)), sizes)
    out = np.empty(members, dtype=np.int64)
    out[rng.permutation(members)] = labels
    return out


def generate(
    params: CampaignParams, members: int, seed: int, rogues: int = 1, collude: bool = False
) -> Campaign:
    """Generate a campaign against ``members`` members, deterministically from ``seed``."""
    if members < 1:
        raise ValueError(f"members={members} is too small: give at least 1 member")
    p = params
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xCA]))
    S = p.sources
    groups = correlation_groups(members, p.group_min, p.group_max, rng)
    n_groups = int(groups.max()) + 1
    order = np.argsort(groups, kind="stable")
    g_size = np.bincount(groups, minlength=n_groups)
    g_first = np.concatenate(([0], np.cumsum(g_size)[:-1]))

    n_multi = round(S * p.multi_source_share) if members >= 2 else 0
    n_low = min(round(S * p.low_slow_share), n_multi)
    n_targeted = min(round(S * p.targeted_share), S - n_multi)
    kind_sorted = np.full(S, OPPORTUNISTIC, dtype=np.int8)
    kind_sorted[: n_multi - n_low] = CORRELATED
    kind_sorted[n_multi - n_low : n_multi] = LOW_SLOW
    kind_sorted[n_multi : n_multi + n_targeted] = TARGETED
    kind = kind_sorted[rng.permutation(S)]
    multi = kind <= LOW_SLOW
    src_start = rng.uniform(0.0, p.duration_s, size=S)

    # Victims of each source: multi-network sources draw 2..|group| members of one
    # correlation group (in random order) and sometimes one member outside it.
    width = int(g_size.max())
    n_victims = np.ones(S, dtype=np.int64)
    victims = np.full((S, width + 1), -1, dtype=np.int64)
    m_idx = np.flatnonzero(multi)
    if m_idx.size:
        g = rng.integers(0, n_groups, size=m_idx.size)
        size = g_size[g]
        k = np.minimum(rng.integers(2, width + 1, size=m_idx.size), size)
        keys = rng.random((m_idx.size, width))
        keys[np.arange(width)[None, :] >= size[:, None]] = np.inf
        slot = np.argsort(keys, axis=1)
        chosen = order[g_first[g][:, None] + np.minimum(slot, size[:, None] - 1)]
        chosen[np.arange(width)[None, :] >= k[:, None]] = -1
        victims[m_idx, :width] = chosen
        n_victims[m_idx] = k
        if members > width:
            extra = rng.integers(0, members, size=m_idx.size)
            add = (rng.random(m_idx.size) < p.cross_group_share) & (groups[extra] != g)
            victims[m_idx[add], width] = extra[add]
            n_victims[m_idx] += add
    s_idx = np.flatnonzero(~multi)
    victims[s_idx, 0] = rng.integers(0, members, size=s_idx.size)

    # Flatten to (source, member) pairs in source-major order; lag is the delay with
    # which the source reaches each successive victim.
    valid = victims >= 0
    pair_source = np.nonzero(valid)[0].astype(np.int64)
    pair_member = victims[valid]
    pair_pos = np.cumsum(valid, axis=1)[valid] - 1
    lag_step = rng.exponential(p.spread_mean_s, size=pair_source.size)
    lag_step[pair_pos == 0] = 0.0
    csum = np.cumsum(lag_step)
    first_pair = np.flatnonzero(pair_pos == 0)
    lag = csum - np.repeat(csum[first_pair], n_victims)
    P = pair_source.size
    pkind = kind[pair_source]

    # Event counts: low-and-slow pairs get a fixed handful; the multi-network budget
    # (multi_event_share of all events) goes to correlated pairs, the rest to single-
    # victim pairs; within each budget heavy-tailed (lognormal) source weights.
    counts = np.zeros(P, dtype=np.int64)
    low = pkind == LOW_SLOW
    counts[low] = p.low_slow_events
    weight = rng.lognormal(0.0, 1.0, size=S)[pair_source] * rng.gamma(2.0, size=P)
    weight[pkind == TARGETED] *= 5.0
    multi_budget = round(p.events * p.multi_event_share) if n_multi else 0
    budgets = (
        (pkind == CORRELATED, multi_budget - int(counts[low].sum())),
        (pkind >= TARGETED, p.events - multi_budget),
    )
    for mask, budget in budgets:
        n = int(mask.sum())
        if n == 0:
            continue
        if budget < n:
            raise ValueError(
                f"events={p.events} is too few for {S} sources: give at least "
                f"{_min_events(p, S)} events or fewer sources"
            )
        w = weight[mask]
        counts[mask] = 1 + rng.multinomial(budget - n, w / w.sum())

    # Event times: each pair starts at source start + lag, gaps are exponential with a
    # per-kind mean; low-and-slow gaps are wide and never cluster (uniform 0.5-1.5x).
    gap_mean = np.choose(
        pkind.astype(np.int64),
        [p.burst_gap_s, p.low_slow_gap_s, p.targeted_gap_s, p.opportunistic_gap_s],
    )
    ev_pair = np.repeat(np.arange(P, dtype=np.int64), counts)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    unit = rng.exponential(1.0, size=ev_pair.size)
    slow_ev = low[ev_pair]
    unit[slow_ev] = rng.uniform(0.5, 1.5, size=int(slow_ev.sum()))
    gaps = unit * gap_mean[ev_pair]
    gaps[starts] = 0.0
    cs = np.cumsum(gaps)
    ev_time = src_start[pair_source][ev_pair] + lag[ev_pair] + cs - np.repeat(cs[starts], counts)

    src_users = np.zeros(S, dtype=np.int64)
    nat = rng.random(S) < p.nat_share
    src_users[nat] = 1 + rng.poisson(p.nat_users - 1, size=int(nat.sum()))
    src_host = np.full(S, -1, dtype=np.int64)
    src_host[nat] = rng.integers(0, members, size=int(nat.sum()))
    n_innocent = p.rogue_reports * (1 if collude else max(rogues, 0))
    innocent_idx = np.arange(n_innocent, dtype=np.int64)
    innocent_addr = INNOCENT_BASE + innocent_idx * 256 + 7
    innocent_users = 1 + rng.poisson(p.innocent_users - 1, size=n_innocent)

    return Campaign(
        params=p,
        members=members,
        seed=seed,
        groups=groups,
        src_kind=kind,
        src_addr=source_address(np.arange(S, dtype=np.int64)),
        src_users=src_users,
        src_host=src_host,
        src_start=src_start,
        pair_source=pair_source,
        pair_member=pair_member,
        pair_start_idx=starts,
        pair_count=counts,
        ev_time=ev_time,
        ev_pair=ev_pair,
        innocent_addr=innocent_addr,
        innocent_users=innocent_users,
    )


def _min_events(p: CampaignParams, sources: int) -> int:
    return int(sources * 6 / max(min(p.multi_event_share, 1 - p.multi_event_share), 0.01)) + 1


@dataclass(frozen=True)
class CampaignStats:
    """What the generated events actually show (to compare with the stated model)."""

    sources: int
    events: int
    multi_source_share: float
    multi_event_share: float
    spread_median_s: float
    low_slow_sources: int
    nat_sources: int


def stats(c: Campaign) -> CampaignStats:
    """Measure the campaign the way Katti et al. measured their IDS logs."""
    S = c.src_kind.size
    victims_per_source = np.bincount(c.pair_source, minlength=S)
    multi = victims_per_source >= 2
    ev_src = c.ev_source
    multi_events = int(multi[ev_src].sum())
    # Delay between a multi-network source's first event anywhere and its first event
    # at each further network.
    first_at_pair = c.ev_time[c.pair_start_idx]
    first_at_src = np.full(S, np.inf)
    np.minimum.at(first_at_src, c.pair_source, first_at_pair)
    later = multi[c.pair_source]
    delays = first_at_pair[later] - first_at_src[c.pair_source[later]]
    delays = delays[delays > 0]
    return CampaignStats(
        sources=S,
        events=int(c.ev_time.size),
        multi_source_share=float(multi.mean()) if S else 0.0,
        multi_event_share=multi_events / max(int(c.ev_time.size), 1),
        spread_median_s=float(np.median(delays)) if delays.size else 0.0,
        low_slow_sources=int((c.src_kind == LOW_SLOW).sum()),
        nat_sources=int((c.src_users > 0).sum()),
    )
