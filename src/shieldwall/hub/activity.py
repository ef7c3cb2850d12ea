"""The alliance's activity: one timeline of what it did, read from the store.

Reports (signal batches), decisions and escalations, revocations, expiries,
consultations opened, corroborated and closed, disputes, applications, accessions, votes,
suspensions, invocations, policies and treaty amendments, each with its time.
Everything comes from records the hub keeps anyway (its inputs, its stream's
events, its disputes); nothing is recorded for the timeline alone.

``GET /v1/activity?limit=200&before=T&kind=decision,revocation`` returns the newest
entries before ``before`` (default: now), oldest first, and ``next_before`` to page
further back.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shieldwall.hub import auth, validate
from shieldwall.hub.errors import ApiError
from shieldwall.hub.members import sec_of
from shieldwall.hub.secretariat import Secretariat
from shieldwall.store import rows
from shieldwall.store.base import Store

KINDS: tuple[str, ...] = (
    "report",
    "decision",
    "escalation",
    "revocation",
    "expiry",
    "consultation-opened",
    "consultation-updated",
    "consultation-closed",
    "dispute",
    "application",
    "accession",
    "rejection",
    "vote",
    "suspension",
    "invocation",
    "policy",
    "amendment",
)
_INPUT_KINDS = (
    "signals",
    "apply",
    "approve",
    "reject",
    "vote",
    "suspend",
    "invoke",
    "policy",
    "amend",
)
MAX_LIMIT = 1000

Entry = dict[str, Any]


def _entry(at: float, kind: str, summary: str, **refs: Any) -> Entry:
    return {"at": at, "kind": kind, "summary": summary, **refs}


def _from_input(store: Store, seq: int, at: float, kind: str, raw: str) -> Entry | None:
    p = json.loads(raw)
    if kind == "signals":
        signals = store.signals_of_input(seq)
        if not signals:
            return None
        # stored text shown only when it is canonical (see hub/quarantine.py)
        targets = sorted({s.target for s in signals if rows.canonical_target(s.target)})
        if not targets:
            return None
        scenarios = sorted({s.scenario for s in signals})
        shown = ", ".join(targets[:5]) + (
            f" and {len(targets) - 5} more" if len(targets) > 5 else ""
        )
        return _entry(
            at,
            "report",
            f"{p['member']} reported {shown} ({', '.join(scenarios)})",
            member=p["member"],
            target=targets[0] if len(targets) == 1 else None,
            targets=targets[:50],
            signals=len(signals),
        )
    if kind == "apply":
        return _entry(at, "application", f"{p['name']} applied to join", member=p["name"])
    if kind == "approve":
        return _entry(at, "accession", f"{p['name']} admitted by {p['by']}", member=p["name"])
    if kind == "reject":
        return _entry(at, "rejection", f"{p['name']} refused by {p['by']}", member=p["name"])
    if kind == "vote":
        verb = "for" if p["approve"] else "against"
        return _entry(
            at, "vote", f"{p['voter']} voted {verb} {p['applicant']}", member=p["applicant"]
        )
    if kind == "suspend":
        return _entry(at, "suspension", f"{p['name']} suspended: {p['reason']}", member=p["name"])
    if kind == "invoke":
        return _entry(
            at, "invocation", f"{p['member']} invoked collective defence", member=p["member"]
        )
    if kind == "policy":
        return _entry(at, "policy", f"{p['member']} reported its local policy", member=p["member"])
    if kind == "amend":
        what = str(p.get("label") or "")
        if not what:  # recorded before amendments carried their label
            try:
                head = tomllib.loads(p["text"]).get("treaty", {})
                what = f"{head.get('name', '?')}@{head.get('version', '?')}"
            except (tomllib.TOMLDecodeError, AttributeError):
                what = "a new version"
        return _entry(at, "amendment", f"treaty amended to {what}", treaty=what)
    return None


def _from_event(at: float, kind: str, raw: str) -> Entry | None:
    b = json.loads(raw)
    if kind == "decision":
        escalated = int(b.get("offence", 1)) > 1
        verb = f"escalated to {b['action']}" if escalated else b["action"]
        return _entry(
            at,
            "escalation" if escalated else "decision",
            f"decision {b['id']}: {verb} {b['target']} ({b['scenario']}, {b['clause']}, "
            f"reported by {', '.join(b['members'])})",
            decision_id=b["id"],
            target=b["target"],
            clause=b["clause"],
            until=b["expires_at"],
        )
    if kind == "revocation":
        return _entry(
            at,
            "revocation",
            f"decision {b['decision_id']} on {b['target']} revoked by {b['by']}: {b['reason']}",
            decision_id=b["decision_id"],
            target=b["target"],
            clause=b["clause"],
        )
    if kind == "consultation":
        members = b.get("members", [])
        if b.get("status") != "open":
            kind, what = "consultation-closed", f"closed ({b.get('status')})"
        elif len(members) > 1:
            kind, what = "consultation-updated", "now reported by " + ", ".join(members)
        else:
            kind, what = "consultation-opened", "opened"
        return _entry(
            at,
            kind,
            f"consultation {b['id']} on {b['target']} ({b['scenario']}) {what}",
            target=b["target"],
            consultation_id=b["id"],
            decision_id=b.get("decision_id"),
        )
    return None


def timeline(store: Store, now: float, before: float, limit: int) -> list[Entry]:
    """The newest ``limit`` entries before ``before``, oldest first."""
    found: list[tuple[float, int, int, Entry]] = []

    def add(source: int, order: int, entry: Entry | None) -> None:
        if entry is not None:
            found.append((entry["at"], source, order, entry))

    for seq, at, kind, raw in store.inputs_before(before, _INPUT_KINDS, limit):
        add(0, seq, _from_input(store, seq, at, kind, raw))
    for event_id, at, kind, raw in store.events_before(before, limit):
        add(1, event_id, _from_event(at, kind, raw))
    for d in store.disputes_before(before, limit):
        add(
            2,
            int(d["id"]),
            _entry(
                float(d["at"]),
                "dispute",
                f"{d['member']} reported {d['target']}, protected as {d['protected']}: "
                f"{d['reason']}",
                member=d["member"],
                target=d["target"],
            ),
        )
    found.sort(key=lambda f: f[:3])
    found = found[-limit:]
    since = found[0][0] if len(found) >= limit else 0.0
    until = min(before, now)
    for x in store.decisions_expired_between(since, until):
        add(
            3,
            x.id,
            _entry(
                x.expires_at,
                "expiry",
                f"decision {x.id} on {x.target} expired ({x.action}, {x.clause})",
                decision_id=x.id,
                target=x.target,
            ),
        )
    found.sort(key=lambda f: f[:3])
    return [f[3] for f in found[-limit:]]


def _kinds(raw: str) -> set[str]:
    wanted = {k.strip() for k in raw.split(",") if k.strip()}
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise ApiError(
            400,
            "bad_request",
            f"kind {unknown[0][:40]!r} is not an activity kind: use one of {', '.join(KINDS)}",
        )
    return wanted


def _number(raw: str | None, name: str, default: float, lo: float, hi: float) -> float:
    if raw is None or raw == "":
        return default
    try:
        # ASCII decimals only: float() also reads '١', ' 5' and '1_0'.
        value = float(raw) if raw.isascii() and raw.strip() == raw and "_" not in raw else math.nan
    except ValueError:
        value = float("nan")
    if not lo <= value <= hi:
        raise ApiError(
            400, "bad_request", f"{name} {raw[:32]!r} must be a number from {lo:g} to {hi:g}"
        )
    return value


def select(entries: Iterable[Entry], kinds: set[str]) -> list[Entry]:
    return [e for e in entries if not kinds or e["kind"] in kinds]


async def activity(request: Request) -> JSONResponse:
    sec: Secretariat = sec_of(request)
    auth.reader(sec, request)
    q = request.query_params
    now = sec.clock()
    limit = validate.query_int(q, "limit", 200, 1, MAX_LIMIT)
    before = _number(q.get("before"), "before", now + 1e-6, 0, 1e11)
    kinds = _kinds(q.get("kind", ""))
    entries = timeline(sec.store, now, before, limit)
    next_before = entries[0]["at"] if len(entries) >= limit else None
    return JSONResponse(
        {
            "now": now,
            "cursor": sec.stream.last_id,
            "activity": select(entries, kinds),
            "next_before": next_before,
        }
    )


routes = [Route("/v1/activity", activity, methods=["GET"])]
