"""Alliance records as STIX 2.1 objects, and partner STIX as alliance signals.

Decisions are indicators (``[ipv4-addr:value = '…']``), revocations are revoked
versions of them (same id, newer ``modified``), members are identities, signals are
sightings. Ids are deterministic (UUIDv5), so the same decision always has the same
indicator id. Incoming objects are checked beyond what ``stix2`` checks: confidence
range, address syntax, pattern shape, sizes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shieldwall.core.addresses import canonical, parse_target
from shieldwall.core.model import Decision, Signal
from shieldwall.interop.crowdsec_format import NAMESPACE, decision_uuid
from shieldwall.interop.source import DecisionSource, Member

STIX_MEDIA = "application/stix+json;version=2.1"
HUB_IDENTITY = f"identity--{uuid.uuid5(NAMESPACE, 'identity:hub')}"
MAX_ADDRESSES = 100

StixObject = dict[str, Any]


def ts(t: float) -> str:
    """A STIX timestamp with millisecond precision."""
    dt = datetime.fromtimestamp(t, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> float:
    if not isinstance(text, str) or not text.endswith("Z") or len(text) > 40:
        raise ValueError(
            f"timestamp {text!r} is not RFC 3339 UTC: give one like 2024-01-31T12:00:00Z"
        )
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00").timestamp()
    except ValueError:
        raise ValueError(
            f"timestamp {text!r} is not RFC 3339 UTC: give one like 2024-01-31T12:00:00Z"
        ) from None


def indicator_id(decision_id: int) -> str:
    return f"indicator--{decision_uuid(decision_id)}"


def member_id(name: str) -> str:
    return f"identity--{uuid.uuid5(NAMESPACE, f'member:{name}')}"


def observed_id(target: str) -> str:
    return f"indicator--{uuid.uuid5(NAMESPACE, f'observed:{target}')}"


def pattern(target: str) -> str:
    """The STIX pattern of a target, written from its parsed value (``ValueError`` if bad)."""
    t = canonical(target)
    kind = "ipv6-addr" if t.version == 6 else "ipv4-addr"
    return f"[{kind}:value = '{t.text}']"


def confidence(d: Decision) -> int:
    """More independent reporters, more confidence; recommendations count half."""
    value = min(100, 40 + 15 * len(d.members))
    return value // 2 if d.recommended else value


def hub_identity(created: float) -> StixObject:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": HUB_IDENTITY,
        "created": ts(created),
        "modified": ts(created),
        "name": "shieldwall alliance hub",
        "identity_class": "system",
    }


def identity(m: Member) -> StixObject:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": member_id(m.name),
        "created": ts(m.joined_at),
        "modified": ts(m.joined_at),
        "name": m.name,
        "identity_class": "organization",
        "description": "external partner" if m.external else "alliance member",
        "created_by_ref": HUB_IDENTITY,
    }


def indicator(d: Decision, revoked_at: float | None = None) -> StixObject:
    obj: StixObject = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": indicator_id(d.id),
        "created": ts(d.issued_at),
        # A revocation is a newer version, even one made within the same millisecond.
        "modified": ts(d.issued_at if revoked_at is None else max(revoked_at, d.issued_at + 0.001)),
        "created_by_ref": HUB_IDENTITY,
        "name": f"{d.action} {d.target}",
        "description": f"{d.scenario}: decided under treaty clause {d.clause}",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern(d.target),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": ts(d.issued_at),
        "valid_until": ts(max(d.expires_at, d.issued_at + 0.001)),
        "confidence": confidence(d),
        "labels": [d.scenario, d.clause, d.action],
    }
    if revoked_at is not None:
        obj["revoked"] = True
    return obj


def observed_indicator(target: str, first_seen: float) -> StixObject:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": observed_id(target),
        "created": ts(first_seen),
        "modified": ts(first_seen),
        "created_by_ref": HUB_IDENTITY,
        "name": f"reported {target}",
        "description": "reported by alliance members; no decision (yet)",
        "indicator_types": ["anomalous-activity"],
        "pattern": pattern(target),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": ts(first_seen),
        "confidence": 15,
    }


def sighting(s: Signal, of_ref: str) -> StixObject:
    sid = uuid.uuid5(NAMESPACE, f"signal:{s.member}\x00{s.target}\x00{s.scenario}\x00{s.at!r}")
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{sid}",
        "created": ts(s.at),
        "modified": ts(s.at),
        "created_by_ref": member_id(s.member),
        "sighting_of_ref": of_ref,
        "where_sighted_refs": [member_id(s.member)],
        "first_seen": ts(s.at),
        "last_seen": ts(s.at),
        "count": max(1, min(s.events, 999_999_999)),
        "description": s.scenario,
    }


@dataclass(frozen=True, slots=True)
class Entry:
    """One object version in a TAXII collection."""

    date_added: float
    obj: StixObject = field(compare=False)

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    @property
    def version(self) -> str:
        return str(self.obj["modified"])


def collection_entries(source: DecisionSource, since: float = 0.0) -> list[Entry]:
    """Every object version added at or after ``since``, in (date added, id) order."""
    entries: list[Entry] = []
    members = source.members()
    if members:
        first = min(m.joined_at for m in members)
        if first >= since:
            entries.append(Entry(first, hub_identity(first)))
    entries.extend(Entry(m.joined_at, identity(m)) for m in members if m.joined_at >= since)
    by_target: dict[str, str] = {}
    for d in source.decisions_since(since):
        entries.append(Entry(d.issued_at, indicator(d)))
        by_target[d.target] = indicator_id(d.id)
    for r in source.revocations_since(since):
        withdrawn = source.decision(r.decision_id)
        if withdrawn is not None:
            entries.append(Entry(r.at, indicator(withdrawn, revoked_at=r.at)))
    observed: dict[str, float] = {}
    for s in source.signals_since(since):
        ref = by_target.get(s.target)
        if ref is None:
            ref = observed_id(s.target)
            if s.target not in observed:
                observed[s.target] = s.at
                entries.append(Entry(s.at, observed_indicator(s.target, s.at)))
        entries.append(Entry(s.at, sighting(s, ref)))
    entries.sort(key=lambda e: (e.date_added, e.id, e.version))
    return entries


# -- incoming ------------------------------------------------------------------

_CMP = r"(ipv4-addr|ipv6-addr):value\s*=\s*'([^'\\]{1,64})'"
_GROUP = rf"\[\s*{_CMP}(?:\s+OR\s+{_CMP})*\s*\]"
_PATTERN_RE = re.compile(rf"^\s*{_GROUP}(?:\s+OR\s+{_GROUP})*\s*$")
_CMP_RE = re.compile(_CMP)


def pattern_targets(text: str) -> list[str]:
    """Normalised addresses of an ``[ipv4-addr:value = '…'] OR …`` pattern."""
    if not isinstance(text, str) or len(text) > 20_000 or not _PATTERN_RE.match(text):
        raise ValueError(
            f"pattern {str(text)[:80]!r} is not a list of address comparisons: use "
            "[ipv4-addr:value = '203.0.113.9'] (OR-joined for several)"
        )
    found = _CMP_RE.findall(text)
    if len(found) > MAX_ADDRESSES:
        raise ValueError(f"pattern has {len(found)} addresses: send at most {MAX_ADDRESSES}")
    targets = []
    for kind, value in found:
        target = parse_target(value)
        # an ipv6-addr may spell IPv4 (::ffff:192.0.2.1): it is folded to that IPv4
        if (kind == "ipv6-addr") != (":" in value) or (kind == "ipv4-addr") != (
            target.version == 4
        ):
            raise ValueError(f"address {value!r} is not an {kind}: fix the object path")
        targets.append(target.text)
    return targets


def _check_confidence(obj: Mapping[str, Any]) -> None:
    if "confidence" in obj:
        c = obj["confidence"]
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c <= 100:
            raise ValueError(f"confidence {c!r} of {obj.get('id')} is not an integer 0-100")


@dataclass(slots=True)
class Received:
    """What became of one object of a partner's envelope: fine unless ``problems``."""

    id: str
    version: str
    problems: list[str] = field(default_factory=list)

    def detail(self) -> dict[str, str]:
        """A TAXII status-details entry."""
        out = {"id": self.id, "version": self.version}
        if self.problems:
            out["message"] = "; ".join(self.problems)[:1000]
        return out


@dataclass(slots=True)
class Intake:
    """Signals from a partner's objects, each traced to the object it came from."""

    objects: list[Received] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)  # object index of each signal

    def reject(self, signal: int, message: str) -> None:
        """Signal number ``signal`` was refused: its object failed, for this reason."""
        problems = self.objects[self.origins[signal]].problems
        if message not in problems:
            problems.append(message)


_SCENARIO_BAD = re.compile(r"[^A-Za-z0-9._:/@+-]+")


def _scenario(raw: Mapping[str, Any]) -> str:
    kinds = raw.get("indicator_types") or ["indicator"]
    return _SCENARIO_BAD.sub("-", f"stix-{kinds[0]}")[:64]


def _identify(raw: object) -> Received:
    if not isinstance(raw, Mapping):
        return Received("?", "", ["object is not a JSON object"])
    version = raw.get("modified", raw.get("created", ""))
    return Received(str(raw.get("id", "?"))[:200], str(version)[:40])


def signals_from(objects: Sequence[object], partner: str, now: float) -> Intake:
    """Signals from a partner's STIX objects.

    Indicators with address patterns become signals, one per address; a sighting of
    one of them in the same envelope adds its ``count`` to their events. Revoked,
    expired and ``benign`` indicators and other object types are accepted and
    ignored. Each object that fails a check gets the reason in its ``problems``.
    """
    import stix2

    intake = Intake()
    by_indicator: dict[str, list[int]] = {}
    sightings: list[Mapping[str, Any]] = []
    for raw in objects:
        received = _identify(raw)
        intake.objects.append(received)
        if received.problems or not isinstance(raw, Mapping):
            continue
        try:
            _check_confidence(raw)
            parsed = stix2.parse(dict(raw), allow_custom=True, version="2.1")
            if raw.get("type") == "indicator":
                scenario = _scenario(raw)
                for target in _indicator_targets(parsed, raw, now):
                    by_indicator.setdefault(received.id, []).append(len(intake.signals))
                    intake.origins.append(len(intake.objects) - 1)
                    intake.signals.append(Signal(partner, target, scenario, now, 1))
            elif raw.get("type") == "sighting":
                sightings.append(raw)
        except Exception as exc:  # stix2 raises many types; each is the sender's error
            received.problems.append(str(exc).splitlines()[0][:300] or type(exc).__name__)
    signals = intake.signals
    for s in sightings:
        count = s.get("count", 1)
        if isinstance(count, int) and not isinstance(count, bool) and count > 0:
            for i in by_indicator.get(str(s.get("sighting_of_ref")), []):
                sig = signals[i]
                signals[i] = Signal(
                    sig.member, sig.target, sig.scenario, sig.at, min(sig.events + count, 10**9)
                )
    return intake


def _indicator_targets(parsed: Any, raw: Mapping[str, Any], now: float) -> Iterable[str]:
    if raw.get("pattern_type") != "stix":
        raise ValueError(f"pattern_type {raw.get('pattern_type')!r} is not supported: use stix")
    targets = pattern_targets(str(raw.get("pattern")))
    if parsed.get("revoked") is True or "benign" in (parsed.get("indicator_types") or ()):
        return []
    until = parsed.get("valid_until")
    if until is not None and until.timestamp() <= now:
        return []
    return targets
