"""The alliance's vocabulary: frozen records that flow from detectors to enforcers.

Nothing here does I/O or reads the clock; times are Unix seconds passed in by the caller.
Targets (the subject of a signal or decision) are always *normalised* strings produced
by :func:`shieldwall.core.addresses.parse_target`: ``"203.0.113.9"``, ``"2001:db8::1"``,
``"198.51.100.0/24"``. A single host is never written with a /32 or /128 suffix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Scope = Literal["ip", "range"]
Action = Literal["watch", "throttle", "ban"]
ACTIONS: tuple[Action, ...] = ("watch", "throttle", "ban")


@dataclass(frozen=True, slots=True)
class Signal:
    """One member's report that ``target`` attacked it.

    ``events`` is how many attack events (log lines) the report summarises; the
    detector that produced it already applied its own threshold.
    """

    member: str
    target: str
    scenario: str
    at: float
    events: int = 1


@dataclass(frozen=True, slots=True)
class Decision:
    """A collective (or invoked, or unilateral) response against ``target``.

    ``clause`` is the stable name of the treaty clause that produced it, ``members``
    the distinct members whose signals caused it (sorted). ``recommended`` marks a
    decision a member may choose to apply (consult-only treaties) rather than one the
    treaty makes binding. ``offence`` counts how many times the target has been
    decided against (1 for a first offence); the ladder uses it for escalation.
    ``applies_to`` lists the only members bound by it (empty: every member), as for
    a unilateral act of self-defence.
    """

    id: int
    target: str
    scope: Scope
    action: Action
    scenario: str
    clause: str
    members: tuple[str, ...]
    issued_at: float
    expires_at: float
    offence: int = 1
    recommended: bool = False
    treaty: str = ""
    applies_to: tuple[str, ...] = ()

    def active(self, now: float) -> bool:
        return self.issued_at <= now < self.expires_at

    @property
    def duration(self) -> float:
        return self.expires_at - self.issued_at


@dataclass(frozen=True, slots=True)
class Alert:
    """Raised readiness against ``target`` (core/alerts.py): blocks nobody.

    A record of its own, never a :class:`Decision`: members apply it to detection
    (their detectors fire on the ``maxretry``-th event from the target while it lasts),
    never to the firewall, and feeds, the bouncer API and TAXII never carry it.
    ``member`` is the one member whose report raised it; ``clause`` is ``"alert"``.
    """

    id: int
    target: str
    scope: Scope
    scenario: str
    member: str
    issued_at: float
    expires_at: float
    maxretry: int
    treaty: str = ""
    clause: str = "alert"
    correlated: tuple[str, ...] = ()  # the reporter's most correlated members, if named
    others_maxretry: int = 0  # the threshold of members not named (0: maxretry)

    def active(self, now: float) -> bool:
        return self.issued_at <= now < self.expires_at


@dataclass(frozen=True, slots=True)
class Revocation:
    """A decision withdrawn before it expired (appeal, admin, veto)."""

    decision_id: int
    target: str
    at: float
    by: str
    reason: str
    clause: str


ConsultationStatus = Literal["open", "corroborated", "expired", "vetoed", "rejected"]


@dataclass(frozen=True, slots=True)
class Consultation:
    """Signals below the automatic threshold: members are asked to corroborate."""

    id: int
    target: str
    scenario: str
    opened_at: float
    closes_at: float
    members: tuple[str, ...]
    status: ConsultationStatus = "open"
    clause: str = ""
    decision_id: int | None = None


@dataclass(frozen=True, slots=True)
class Dispute:
    """A report against something the treaty protects; recorded, never acted on."""

    member: str
    target: str
    scenario: str
    at: float
    protected: str
    reason: str


@dataclass(frozen=True, slots=True)
class NoAction:
    """Why a signal produced no decision (yet)."""

    member: str
    target: str
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one council step produced, in the order it happened."""

    decisions: tuple[Decision, ...] = ()
    revocations: tuple[Revocation, ...] = ()
    consultations: tuple[Consultation, ...] = ()
    disputes: tuple[Dispute, ...] = ()
    no_action: tuple[NoAction, ...] = ()
    notices: tuple[str, ...] = field(default=())
    alerts: tuple[Alert, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.decisions or self.revocations or self.consultations or self.disputes or self.alerts
        )


MemberStatus = Literal["pending", "active", "suspended", "rejected"]
Standing = Literal["ok", "warned", "delayed", "suspended"]


@dataclass(frozen=True, slots=True)
class MemberState:
    """A member as the council sees it at one moment.

    ``probation`` is true while a newcomer's reports count toward consultations but
    not toward quorum; ``joined_at`` is None until the member is admitted.
    """

    name: str
    addresses: tuple[str, ...]
    status: MemberStatus
    reputation: float
    joined_at: float | None
    permanent: bool = False
    probation: bool = False
    applied_at: float = 0.0
    corroborated: int = 0
    invoked_until: float | None = None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """Burden sharing for one member: decisions it helped cause against what it owed.

    ``share`` is contribution / exposure (attacks it had to report) once its agent
    reports exposure, contribution / consumption before; None while it owes nothing.
    """

    member: str
    contribution: int
    consumption: int
    share: float | None
    standing: Standing
    exposure: int | None = None  # None: never reported
