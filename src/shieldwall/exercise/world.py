"""The world an exercise plays out in: campaign, members and what their detectors saw.

A :class:`World` is built once per configuration and shared by every treaty compared
on it, so the treaties face exactly the same attackers, members and links.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from shieldwall.exercise import campaign as cmod
from shieldwall.exercise import ipv6
from shieldwall.exercise import members as mmod

if TYPE_CHECKING:
    from shieldwall.exercise.timeline import Run


# Majority and unanimity accession cast votes quadratic in the number of members
# (10,000 members joining by unanimity: 50 million votes through the council).
MAX_MEMBERS = 10_000


@dataclass(frozen=True)
class Config:
    """One exercise: how many members, which seed, campaign and member parameters."""

    members: int = 200
    seed: int = 7
    campaign: cmod.CampaignParams = field(default_factory=cmod.CampaignParams)
    behaviour: mmod.MemberParams = field(default_factory=mmod.MemberParams)
    slice_s: float = 5.0
    appeal_after_s: float = 21_600.0

    def __post_init__(self) -> None:
        cmod.check_fields(
            self,
            (
                (("members",), 1, MAX_MEMBERS),
                (("seed",), 0, 2**63 - 1),
                (("slice_s",), 0.001, 3_600.0),
                (("appeal_after_s",), 0.0, 365 * 86_400.0),
            ),
        )
        mmod.check_rogues(self.behaviour.rogue, self.members)

    def as_dict(self) -> dict[str, Any]:
        return {
            "members": self.members,
            "seed": self.seed,
            "slice_s": self.slice_s,
            "appeal_after_s": self.appeal_after_s,
            "self_defence": self.behaviour.self_defence,
            "self_defence_ban_s": self.behaviour.self_defence_ban_s,
            "campaign": asdict(self.campaign),
            "member_params": asdict(self.behaviour),
        }


class World:
    """Campaign + members + detector firings + rogue plots, with address lookups."""

    def __init__(
        self,
        config: Config,
        campaign: cmod.Campaign | None = None,
        members: mmod.Members | None = None,
    ) -> None:
        """Generate the world from ``config``, or use a hand-made campaign and roster."""
        self.config = config
        self.slice_s = config.slice_s
        self.appeal_after_s = config.appeal_after_s
        b = config.behaviour
        self.members = members or mmod.build(
            b, config.members, config.seed, config.campaign.duration_s
        )
        self.campaign = ipv6.rotate(
            campaign
            or cmod.generate(
                config.campaign, config.members, config.seed, rogues=b.rogue, collude=b.collude
            ),
            self.members.params.prefix_counting,
        )
        self.detections = mmod.detect(self.campaign, self.members)
        self._candidates: mmod.Candidates | None = None
        self._first_fire: NDArray[np.float64] | None = None
        self.rogue = mmod.rogue_reports(self.campaign, self.members, config.seed)
        c = self.campaign
        self._src_text: dict[int, str] = {}
        self._targets: dict[str, tuple[int, int]] | None = None
        # Events are grouped by source (pairs are source-major): first/last event index.
        pair_lo = c.pair_start_idx
        pair_hi = pair_lo + c.pair_count
        S = c.src_kind.size
        self.src_lo = np.full(S, 0, dtype=np.int64)
        self.src_hi = np.full(S, 0, dtype=np.int64)
        first = np.concatenate(([True], c.pair_source[1:] != c.pair_source[:-1]))
        last = np.concatenate((c.pair_source[1:] != c.pair_source[:-1], [True]))
        self.src_lo[c.pair_source[first]] = pair_lo[first]
        self.src_hi[c.pair_source[last]] = pair_hi[last]

    @property
    def self_defence(self) -> bool:
        """Whether members ban the sources their own detectors catch (local policy)."""
        return self.members.params.self_defence

    @property
    def self_defence_ban_s(self) -> float:
        return self.members.params.self_defence_ban_s

    @property
    def candidates(self) -> mmod.Candidates:
        if self._candidates is None:
            self._candidates = mmod.candidates(self.campaign, self.members)
        return self._candidates

    @property
    def first_fire(self) -> NDArray[np.float64]:
        """Per pair: when the member's detector first fires on the source, nothing
        blocked (inf: never)."""
        if self._first_fire is None:
            cand = self.candidates
            has = cand.hi > cand.lo
            out = np.full(cand.lo.size, np.inf)
            out[has] = cand.time[cand.lo[has]]
            self._first_fire = out
        return self._first_fire

    def caught_before(self, src: int, t: float) -> NDArray[np.int64]:
        """Members whose detectors fired on source ``src`` before ``t`` (nothing blocked)."""
        c = self.campaign
        lo = int(np.searchsorted(c.pair_source, src, side="left"))
        hi = int(np.searchsorted(c.pair_source, src, side="right"))
        return c.pair_member[lo:hi][self.first_fire[lo:hi] < t]

    def variant(self, self_defence: bool) -> World:
        """The same world (attackers, members, links, rogue plots) with local
        self-defence switched on or off."""
        if self_defence == self.self_defence:
            return self
        other = copy.copy(self)
        behaviour = replace(self.config.behaviour, self_defence=self_defence)
        other.config = replace(self.config, behaviour=behaviour)
        other.members = replace(
            self.members, params=replace(self.members.params, self_defence=self_defence)
        )
        return other

    def detected(self) -> NDArray[np.bool_]:
        """Per source: whether some member's detector fired on it (nothing blocked)."""
        out = np.zeros(self.campaign.src_kind.size, dtype=bool)
        out[self.campaign.pair_source[self.detections.pair]] = True
        return out

    def source_text(self, src: int) -> str:
        text = self._src_text.get(src)
        if text is None:
            text = self.campaign.src_text.get(src) or cmod.address_text(
                int(self.campaign.src_addr[src])
            )
            self._src_text[src] = text
        return text

    def innocent_text(self, k: int) -> str:
        return cmod.address_text(int(self.campaign.innocent_addr[k]))

    def lookup(self, target: str) -> tuple[int, int]:
        """(source index, innocent index) of a decided target; -1 where it is neither."""
        if self._targets is None:
            c = self.campaign
            table = {cmod.address_text(int(a)): (i, -1) for i, a in enumerate(c.src_addr)}
            for i in c.src_text:  # IPv6 sources: their text, never their IPv4 placeholder
                table.pop(cmod.address_text(int(c.src_addr[i])), None)
            table.update((text, (i, -1)) for i, text in c.src_text.items())
            for k, a in enumerate(c.innocent_addr):
                table[cmod.address_text(int(a))] = (-1, k)
            self._targets = table
        return self._targets.get(target, (-1, -1))

    def source_events(self, src: int) -> tuple[int, int]:
        return int(self.src_lo[src]), int(self.src_hi[src])

    def is_permanent(self, run: Run, member: int) -> bool:
        state = run.council.member(run.names[member])
        return bool(state is not None and state.permanent)
