"""The treaty: a TOML file, validated strictly, hashed and versioned.

``load_treaty(text)`` returns a frozen :class:`Treaty` or raises ``ValueError`` naming
the key, the bad value and the fix. The built-in templates live next to this module
in ``templates/*.toml``; every clause a decision can cite is listed in :data:`CLAUSES`.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any, Literal

from shieldwall.core import special
from shieldwall.core.addresses import Target, parse_target
from shieldwall.core.model import Action
from shieldwall.core.settings import REQUIRED, SCHEMA, SettingError, convert, suggest
from shieldwall.core.special import DEFAULT_ALLOWED
from shieldwall.core.treaty_checks import cross_check

TEMPLATES: tuple[str, ...] = ("unilateral", "nato", "anzus", "un", "league")

CLAUSES: dict[str, str] = {
    "art5.quorum": "binding collective decision: a quorum of distinct trusted members "
    "reported the target within the window",
    "art5.invocation": "binding collective decision on the signal of a member that invoked "
    "collective defence",
    "recommendation": "quorum reached under a consult-only treaty: each member chooses "
    "whether to apply the decision",
    "unanimity": "every active member in good standing reported the target; issued after "
    "deliberation as a recommendation",
    "self-defence": "a member's own response to its own report, binding only that member",
    "art4.consultation": "a report below quorum: members are asked to corroborate",
    "art4.corroborated": "consultation closed because the target was decided",
    "art4.expired": "consultation closed at its timeout without corroboration",
    "veto": "a permanent member vetoed a collective decision",
    "appeal": "decision revoked on appeal: its reporters lose reputation",
    "admin-revoke": "decision revoked by the secretariat",
    "targets.prefix": "quorum reached on several addresses of one prefix (prefix_v6, "
    "prefix_v4): the decision covers the prefix",
    "targets.widen": "enough decided prefixes lie inside a wider one (widen_v6, widen_v4, "
    "widen_after): the decision covers the wider prefix",
    "protected": "a report against a network the treaty protects is recorded as a dispute",
    "protected.member": "a report against a member's declared address is recorded as a dispute",
    "alert": "raised readiness: one report from a member in good standing; blocks nobody, "
    "members detect the target with the treaty's alert maxretry until the alert ends",
    "alert.correlated": "an alert that names the reporter's most correlated members "
    "([correlation]): they apply its maxretry, the others others_maxretry",
    "shared.local": "quorum on an address with benign evidence (shared NAT): banned only "
    "at the member that reported it",
    "shared.throttle": "quorum on an address with benign evidence (shared NAT): throttled "
    "instead of banned",
    "shared.shorter": "quorum on an address with benign evidence (shared NAT): a shorter ban",
}

Accession = Literal["admin", "majority", "unanimity"]
Collective = Literal["automatic", "recommend", "none"]
BurdenPolicy = Literal["none", "warn", "delay", "suspend"]


@dataclass(frozen=True)
class Rung:
    action: Action
    duration: float


@dataclass(frozen=True)
class ConsultationRules:
    enabled: bool
    timeout: float


@dataclass(frozen=True)
class InvocationRules:
    enabled: bool
    min_signals: int
    duration: float
    max_per_period: int
    period: float
    automatic: bool


@dataclass(frozen=True)
class LadderRules:
    rungs: tuple[Rung, ...]
    max_duration: float


@dataclass(frozen=True)
class RecidivismRules:
    memory: float
    factor: float


@dataclass(frozen=True)
class TargetRules:
    allow_ranges: bool
    max_range_v4: int
    max_range_v6: int
    prefix_v6: int = 64
    prefix_v4: int = 32
    widen_v6: tuple[int, ...] = (56, 48)
    widen_v4: tuple[int, ...] = ()
    widen_after: int = 3
    special: tuple[str, ...] = DEFAULT_ALLOWED

    @cached_property
    def special_allowed(self) -> frozenset[str]:
        return frozenset(self.special)


@dataclass(frozen=True)
class ProtectedRange:
    network: str
    label: str


@dataclass(frozen=True)
class ProtectedRules:
    ranges: tuple[ProtectedRange, ...]
    members: bool


@dataclass(frozen=True)
class VetoRules:
    enabled: bool
    permanent: tuple[str, ...]
    period: float


@dataclass(frozen=True)
class ReputationRules:
    initial: float
    gain: float
    loss: float
    maximum: float
    floor: float
    suspend_below_floor: bool
    probation_signals: int
    probation_period: float
    founding: float


@dataclass(frozen=True)
class BurdenRules:
    policy: BurdenPolicy
    minimum_share: float
    grace: float
    delay: float


@dataclass(frozen=True)
class AppealRules:
    enabled: bool


@dataclass(frozen=True)
class AlertRules:
    """[alert]: raised readiness (see :mod:`shieldwall.core.alerts`)."""

    enabled: bool = False
    window: float = 3600.0
    maxretry: int = 1


@dataclass(frozen=True)
class CorrelationRules:
    """[correlation]: who sees the attacker next (see :mod:`shieldwall.core.correlation`)."""

    enabled: bool = False
    window: float = 604800.0
    top: int = 5
    min_shared: int = 2
    others_maxretry: int = 0


SharedResponse = Literal["local", "throttle", "shorter"]


@dataclass(frozen=True)
class SharedRules:
    """[shared]: addresses with benign evidence (see :mod:`shieldwall.core.shared`)."""

    enabled: bool = False
    response: SharedResponse = "local"
    min_benign: int = 1
    memory: float = 604800.0
    shorten: float = 0.25


@dataclass(frozen=True)
class RecordsRules:
    """[records]: how long the hub keeps recorded inputs and stream events."""

    retention: float = 7776000.0  # 90 days; 0: forever


ViewAccess = Literal["public", "members", "admin"]


@dataclass(frozen=True)
class ViewRules:
    """[views]: who may read the hub's views (decisions, members, activity, dashboard)."""

    access: ViewAccess


@dataclass(frozen=True)
class Treaty:
    """A validated treaty. ``quorum``, ``window`` and friends mirror [collective]."""

    name: str
    version: int
    digest: str
    text: str = field(repr=False)
    description: str
    accession: Accession
    collective: Collective
    quorum: int
    window: float
    reputation_threshold: float
    unanimity: bool
    deliberation: float
    consultation: ConsultationRules
    invocation: InvocationRules
    ladder: LadderRules
    recidivism: RecidivismRules
    targets: TargetRules
    protected: ProtectedRules
    veto: VetoRules
    reputation: ReputationRules
    burden: BurdenRules
    appeals: AppealRules
    views: ViewRules
    alert: AlertRules = AlertRules()
    shared: SharedRules = SharedRules()
    correlation: CorrelationRules = CorrelationRules()
    records: RecordsRules = RecordsRules()

    @property
    def label(self) -> str:
        """``name@version``, as cited by decisions."""
        return f"{self.name}@{self.version}"

    def check_target(self, text: str) -> Target:
        """Parse a reported target, refusing ranges broader than the treaty allows.

        The value is folded (IPv4-mapped IPv6 to IPv4) before any check. Whether it
        lies in special-purpose space is :meth:`special_refusal`'s question, asked by
        the council after the protected-asset check (a report on a protected asset is
        a dispute, whatever its spelling).
        """
        rules = self.targets
        target = parse_target(
            text, min_prefix_v4=rules.max_range_v4, min_prefix_v6=rules.max_range_v6
        )
        if target.scope == "range" and not rules.allow_ranges:
            raise ValueError(
                f"range {text!r} cannot be reported: the treaty allows single addresses only"
            )
        return target

    def special_refusal(self, version: int, first: int, last: int) -> str:
        """Why addresses ``first..last`` are special-purpose space the treaty refuses, or ''."""
        span = special.overlapping(version, first, last, self.targets.special_allowed)
        if span is None:
            return ""
        inside = first >= span.first and last <= span.last
        where = f"lies in {span.network}" if inside else f"overlaps {span.network}"
        if span.category in special.NEVER:
            return (
                f"{where}, {span.category} space, which can never be a target: report the "
                "address the attack came from"
            )
        return (
            f"{where}, special-purpose {span.category} space, which this treaty does not "
            "allow as a target: report the address the attack came from, or allow it with "
            f'[targets] special = ["{span.category}", ...]'
        )


def template_text(name: str) -> str:
    """The TOML text of a built-in template."""
    if name not in TEMPLATES:
        hint = suggest(name, list(TEMPLATES))
        extra = f"did you mean {hint!r}? " if hint else ""
        raise ValueError(
            f"unknown treaty template {name!r}: {extra}choose one of {', '.join(TEMPLATES)}"
        )
    return (resources.files("shieldwall.core") / "templates" / f"{name}.toml").read_text("utf-8")


def load_template(name: str) -> Treaty:
    return load_treaty(template_text(name), source=f"template {name}")


def load_treaty(text: str, source: str = "<treaty>") -> Treaty:
    """Parse and validate a treaty; ``ValueError`` names key, bad value and fix."""
    if not isinstance(text, str):
        raise ValueError(f"{source}: a treaty is TOML text, got {type(text).__name__}")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML ({exc}): fix the syntax there") from None
    values = _read(doc, source)

    def get(section: str, key: str) -> Any:
        return values[section][key]

    def fail(message: str) -> ValueError:
        return ValueError(f"{source}: {message}")

    rungs = tuple(Rung(a, d) for a, d in get("ladder", "rungs"))
    treaty = Treaty(
        name=get("treaty", "name"),
        version=get("treaty", "version"),
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
        description=get("treaty", "description"),
        accession=get("accession", "mode"),
        collective=get("collective", "mode"),
        quorum=get("collective", "quorum"),
        window=get("collective", "window"),
        reputation_threshold=get("collective", "reputation_threshold"),
        unanimity=get("collective", "unanimity"),
        deliberation=get("collective", "deliberation"),
        consultation=ConsultationRules(**values["consultation"]),
        invocation=InvocationRules(**values["invocation"]),
        ladder=LadderRules(rungs, get("ladder", "max_duration")),
        recidivism=RecidivismRules(**values["recidivism"]),
        targets=TargetRules(**values["targets"]),
        protected=ProtectedRules(
            tuple(ProtectedRange(n, lbl) for n, lbl in get("protected", "ranges")),
            get("protected", "members"),
        ),
        veto=VetoRules(**values["veto"]),
        reputation=ReputationRules(**values["reputation"]),
        burden=BurdenRules(**values["burden"]),
        appeals=AppealRules(**values["appeals"]),
        views=ViewRules(**values["views"]),
        alert=AlertRules(**values["alert"]),
        shared=SharedRules(**values["shared"]),
        correlation=CorrelationRules(**values["correlation"]),
        records=RecordsRules(**values["records"]),
    )
    problem = cross_check(treaty)
    if problem:
        raise fail(problem)
    return treaty


def _read(doc: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """Every section's values, defaults filled in; strict about names and types."""
    for section, body in doc.items():
        if section not in SCHEMA:
            hint = suggest(section, list(SCHEMA))
            advice = f"did you mean [{hint}]?" if hint else f"use one of [{'], ['.join(SCHEMA)}]"
            raise ValueError(f"{source}: unknown section [{section}]: {advice}")
        if not isinstance(body, dict):
            raise ValueError(
                f"{source}: {section} = {body!r} must be a section: write [{section}] "
                "on its own line followed by its keys"
            )
        for key in body:
            if key not in SCHEMA[section]:
                if key in SCHEMA:
                    raise ValueError(
                        f"{source}: unknown key {key!r} in [{section}]: {key} is a section of "
                        f"its own; write [{key}] on its own line after the keys of [{section}]"
                    )
                hint = suggest(key, list(SCHEMA[section]))
                advice = (
                    f"did you mean {hint!r}?"
                    if hint
                    else f"the keys of [{section}] are {', '.join(SCHEMA[section])}"
                )
                raise ValueError(f"{source}: unknown key {key!r} in [{section}]: {advice}")
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        body = doc.get(section, {})
        values[section] = {}
        for key, spec in keys.items():
            if key not in body:
                if spec.default is REQUIRED:
                    raise ValueError(
                        f"{source}: missing key {key!r} in [{section}]: add "
                        f"{key} = {spec.example} ({spec.help})"
                    )
                raw: Any = spec.default
            else:
                raw = body[key]
            try:
                values[section][key] = convert(spec, raw)
            except SettingError as exc:
                raise ValueError(f"{source}: {section}.{key} = {raw!r} {exc}") from None
    return values
