"""The hub's recorded inputs: each kind, the payload it carries, what it does to the council.

Every change to the alliance is one of these, recorded in the store's ``inputs`` log
with the time it happened; replaying the log (at start, or on a replica) through
:func:`apply_input` rebuilds the council exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shieldwall.core.council import Council
from shieldwall.core.model import Outcome, Signal
from shieldwall.core.treaty import load_treaty

# Each kind with the payload keys it needs.
KINDS: dict[str, tuple[str, ...]] = {
    "signals": ("member",),
    "apply": ("name", "addresses"),
    "approve": ("name", "by"),
    "reject": ("name", "by"),
    "vote": ("applicant", "voter", "approve"),
    "revoke": ("id", "by", "reason", "appeal"),
    "veto": ("member", "id"),
    "invoke": ("member",),
    "suspend": ("name", "reason"),
    "tick": (),
    "received": ("member", "count"),
    "policy": ("member", "policy"),
    "receipts": ("replica", "n", "counts"),
    "amend": ("text",),
    "evidence": ("member", "exposure", "benign"),
}


def check_input(kind: str, payload: dict[str, Any]) -> None:
    """ValueError unless ``kind`` is known and ``payload`` has what it needs."""
    if kind not in KINDS:
        raise ValueError(f"input kind {kind[:40]!r} is unknown: upgrade shieldwall")
    missing = [k for k in KINDS[kind] if k not in payload]
    if missing:
        raise ValueError(f"a {kind!r} input needs {', '.join(missing)} in its payload")


def apply_input(
    c: Council, kind: str, p: dict[str, Any], now: float, signals: Sequence[Signal]
) -> Outcome:
    """What one recorded input does to the council at ``now``."""
    if kind == "signals":
        return c.step(signals, now)
    if kind == "apply":
        return c.apply(p["name"], p["addresses"], now, permanent=p.get("permanent", False))
    if kind == "approve":
        return c.approve(p["name"], now, by=p["by"])
    if kind == "reject":
        return c.reject(p["name"], now, by=p["by"])
    if kind == "vote":
        return c.vote(p["applicant"], p["voter"], p["approve"], now)
    if kind == "revoke":
        return c.revoke(p["id"], now, p["by"], p["reason"], appeal=p["appeal"])
    if kind == "veto":
        return c.veto(p["member"], p["id"], now)
    if kind == "invoke":
        return c.invoke(p["member"], now)
    if kind == "suspend":
        return c.suspend(p["name"], now, p["reason"])
    if kind == "tick":
        return c.tick(now)
    if kind == "received":
        c.received(p["member"], p["count"])
        return Outcome()
    if kind == "policy":
        return Outcome()  # recorded for the log and replicas; not the council's concern
    if kind == "receipts":  # decisions members received from a replica's stream
        for member, count in sorted(p["counts"].items()):
            if c.member(member) is not None:
                c.received(member, count)
        return Outcome()
    if kind == "amend":  # the treaty text is the record; later inputs follow it
        return c.amend(load_treaty(p["text"], "recorded treaty amendment"), now)
    if kind == "evidence":  # exposure (None: not reported) and benign counts per target
        if p["exposure"] is not None:
            c.exposed(p["member"], p["exposure"])
        for target, count in sorted(p["benign"].items()):
            c.benign(p["member"], target, count, now)
        return Outcome()
    raise ValueError(f"unknown input kind {kind!r} in the store: upgrade shieldwall")
