"""The state of one treaty's run: the decisions seen so far and the schedule of what
the world does next (answers to consultations, appeals, vetoes, detector firings).

Times inside a run are seconds since the campaign started; the council sees them as
Unix seconds from the virtual epoch ``T0``.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from shieldwall.core.council import Council
from shieldwall.core.model import Alert, Decision
from shieldwall.core.treaty import Treaty

T0 = 1_700_000_000.0  # virtual epoch of the campaign (2023-11-14)
JOINED = T0 - 60 * 86_400.0  # members joined long before: past probation and grace
HOUR = 3_600.0

# Scheduled reaction: (member or decision id, host member, target, time sent); detector
# events use (pair, candidate or event index, "", 0.0).
Payload = tuple[int, int, str, float]

# Kinds of scheduled events (the order breaks ties at equal times). SIG: a member's
# answer to a consultation; VETO, APPEAL: reactions to a decision; REPORT: a detector's
# report reaches the hub; DET: a member's detector may fire (self-defence mode); SEEN:
# it fires on what a throttle lets through; TICK: the council has something due
# (a deliberation ends), as the hub's ticker would notice.
# ALERT: a member's detector may fire early on an alerted source (self-defence mode).
SIG, VETO, APPEAL, REPORT, DET, SEEN, TICK, ALERT = 0, 1, 2, 3, 4, 5, 6, 7


@dataclass
class Record:
    """What the engine knows about one decision (mutable: revocations shorten it)."""

    decision: Decision
    issued: float  # relative seconds
    end: float
    source: int  # index into campaign sources, or -1 for innocent addresses
    innocent: int  # index into innocent addresses, or -1
    applies: NDArray[np.bool_] | None  # None: every member
    snapshot: int
    users: int


@dataclass
class Run:
    """Mutable state of one treaty's run."""

    council: Council
    treaty: Treaty
    names: list[str]
    index: dict[str, int] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    by_id: dict[int, Record] = field(default_factory=dict)
    by_source: dict[int, list[Record]] = field(default_factory=dict)
    extra: list[NDArray[np.float64]] = field(default_factory=list)
    seen_consultations: set[int] = field(default_factory=set)
    consultations: int = 0
    disputes: int = 0
    revocations: int = 0
    received: NDArray[np.int64] | None = None
    received_all: int = 0
    # Attacks each member had to report since the last hour (ledger exposure).
    exposed: NDArray[np.int64] | None = None
    heap: list[tuple[float, int, int, Payload]] = field(default_factory=list)
    seq: int = 0
    # Local self-defence: (pair, time the member's detector fired and it banned).
    local_pair: list[int] = field(default_factory=list)
    local_time: list[float] = field(default_factory=list)

    # Alerts the council raised, with the source they name (-1: not an attacker).
    alerts: list[tuple[int, Alert]] = field(default_factory=list)
    # Called with each alert on an attacking source (members apply it to detection).
    on_alert: Callable[[int, Alert], None] | None = None
    alert_firings: int = 0  # local firings an alert brought forward

    horizon: float = math.inf

    def push(self, at: float, kind: int, payload: Payload) -> None:
        """Schedule a reaction; those after the horizon (campaign over) are dropped."""
        if at > self.horizon:
            return
        self.seq += 1
        heapq.heappush(self.heap, (at, kind, self.seq, payload))
