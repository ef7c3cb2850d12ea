"""What an exercise measures, as pure functions over arrays, and the per-treaty record.

Definitions (docs/exercise.md explains them for operators):

* absorbed: an attack event that reached its member; blocked: one a decision in force
  at that member stopped (a throttle lets one event in ``throttle_pass_every`` pass).
* protection delay of an attacker: from its first event anywhere to the moment every
  active member enforces a decision against it; an attacker that never reaches that
  point has an infinite delay, so a percentile that falls among them is "never" (None).
  Only attackers that some member detected are counted. The ``multi`` variants count
  multi-network attackers only; ``online`` ones leave out members that were offline
  (outage) when the decision was issued.
* false ban: a decision or a member's local self-defence ban against an address that
  carries benign users (an innocent address a rogue reported, or a shared NAT
  address); its cost is users x hours. A local ban that overlaps a decision binding
  the same member is the same ban: it adds its uncovered hours, not a count.
* burden sharing: each member's share of the contributions in the council's ledger,
  the Gini coefficient of those contributions, and how much of their attack traffic
  free riders had blocked compared with contributing members.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


def percentile(values: NDArray[np.float64], q: float) -> float | None:
    """The q-th percentile (nearest rank, not interpolated); None when it is infinite."""
    if values.size == 0:
        return None
    ordered = np.sort(values)
    rank = max(int(np.ceil(q / 100.0 * ordered.size)) - 1, 0)
    value = float(ordered[rank])
    return None if not np.isfinite(value) else value


def rounded(value: float | None) -> float | None:
    """A figure for the results document: 3 decimals; None ("never") stays None."""
    return None if value is None else round(value, 3)


def gini(values: NDArray[np.float64]) -> float:
    """Gini coefficient: 0 when everyone contributes equally, near 1 when one does all."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    total = float(x.sum())
    if n == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2.0 * (ranks * x).sum()) / (n * total) - (n + 1) / n)


def shares(values: NDArray[np.float64]) -> NDArray[np.float64]:
    total = float(np.sum(values))
    if total <= 0:
        return np.zeros_like(np.asarray(values, dtype=np.float64))
    return np.asarray(values, dtype=np.float64) / total


def protection_delays(
    first_event: NDArray[np.float64],
    protected_at: NDArray[np.float64],
    detected: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """Delay per detected attacker (inf when never protected everywhere), never negative."""
    delay = np.maximum(protected_at - first_event, 0.0)
    return delay[detected]


def cumulative(
    times: NDArray[np.float64], end: float, bins: int = 120
) -> tuple[list[float], list[int]]:
    """Cumulative count of ``times`` at ``bins`` evenly spaced instants up to ``end``."""
    edges = np.linspace(0.0, max(end, 1e-9), bins + 1)
    counts, _ = np.histogram(np.clip(times, 0.0, edges[-1]), bins=edges)
    return [float(x) for x in edges[1:]], [int(x) for x in np.cumsum(counts)]


def protection_rate(
    blocked: NDArray[np.bool_], ev_member: NDArray[np.int64], mask: NDArray[np.bool_]
) -> float:
    """Share of the attack events at members in ``mask`` that were blocked."""
    sel = mask[ev_member]
    n = int(sel.sum())
    return float(blocked[sel].sum()) / n if n else 0.0


@dataclass(frozen=True)
class FalseBan:
    target: str
    users: float  # benign users behind the address x share of members enforcing
    issued_at: float
    ended_at: float
    rogue: bool  # an innocent address a rogue member made up
    counted: bool = True  # False: extra hours of a ban already counted

    @property
    def hours(self) -> float:
        return max(self.ended_at - self.issued_at, 0.0) / 3600.0


def false_ban_summary(bans: list[FalseBan]) -> dict[str, float | int]:
    rogue = [b for b in bans if b.rogue]
    return {
        "false_bans": sum(1 for b in bans if b.counted),
        "false_ban_hours": round(sum(b.hours for b in bans), 3),
        "false_ban_user_hours": round(sum(b.hours * b.users for b in bans), 3),
        "rogue_false_bans": sum(1 for b in rogue if b.counted),
        "rogue_user_hours": round(sum(b.hours * b.users for b in rogue), 3),
    }


@dataclass(frozen=True)
class TreatyResult:
    """Every figure for one treaty on one campaign; ``series`` holds plot data."""

    treaty: str
    attacks_absorbed: int
    attacks_blocked: int
    blocked_share: float
    protection_delay_p50_s: float | None
    protection_delay_p95_s: float | None
    protection_delay_multi_p50_s: float | None
    protection_delay_multi_p95_s: float | None
    protection_delay_multi_online_p50_s: float | None
    protection_delay_multi_online_p95_s: float | None
    protected_share: float
    detected_attackers: int
    false_bans: int
    false_ban_hours: float
    false_ban_user_hours: float
    rogue_false_bans: int
    rogue_user_hours: float
    decisions: int
    consultations: int
    disputes: int
    revocations: int
    contribution_gini: float
    free_rider_protection: float
    contributor_protection: float
    free_rider_gain: float
    standing: dict[str, int]
    absorbed_by_kind: dict[str, int]
    series: dict[str, Any]
    self_defence: bool = False  # members banned what their own detectors caught
    local_bans: int = 0  # local self-defence bans (member, attacker, time)
    blocked_locally_only: int = 0  # events only a local ban stopped
    possible_gain_captured: float | None = None  # see shieldwall.exercise.oracle
    alerts: int = 0  # alerts the council raised (treaty [alert] clause)
    alert_firings: int = 0  # members' local firings an alert brought forward
    absorbed_ipv6: int = 0  # absorbed events from IPv6 attackers (exercise.ipv6)

    def as_json(self, series: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not series:
            out.pop("series")
        return out
