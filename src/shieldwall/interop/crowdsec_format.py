"""Alliance decisions in the shape of CrowdSec's Local API (``models.Decision``).

Fields and meaning follow ``pkg/models/localapi_swagger.yaml``: ``id``, ``origin``,
``type``, ``scope`` (``Ip``/``Range``), ``value``, ``duration`` (time *remaining*, as
Go's ``time.Duration.String()`` prints it), ``scenario``, ``simulated`` and ``uuid``.
Everything but the duration is fixed for a decision's life, so its JSON is built once
and cached by id; a pull only formats the remaining durations.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from shieldwall.core.addresses import canonical
from shieldwall.core.model import Decision, Revocation, Scope

ORIGIN = "shieldwall"
NAMESPACE = uuid.UUID("6a1f6c4e-8b0e-5d7a-9c35-2f4b1d0e9a11")
_NS_BYTES = NAMESPACE.bytes
SCOPES = {"ip": "Ip", "range": "Range"}


def decision_uuid(decision_id: int) -> str:
    """The stable UUID of a decision (also the UUID part of its STIX indicator id).

    ``uuid5(NAMESPACE, "decision:<id>")``, computed inline because a cold pull
    formats 100,000 of them.
    """
    digest = bytearray(hashlib.sha1(_NS_BYTES + b"decision:%d" % decision_id).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _frac(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10**digits)
    if not frac:
        return str(whole)
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String()``: ``3h59m58.123456789s``, ``1.5ms``, ``-2s``."""
    ns = round(seconds * 1e9)
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_frac(ns, 3)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_frac(ns, 6)}ms"
    secs, frac = divmod(ns, 1_000_000_000)
    hours, rest = divmod(secs, 3600)
    minutes, s = divmod(rest, 60)
    tail = f"{s}.{frac:09d}".rstrip("0") + "s" if frac else f"{s}s"
    if hours:
        return f"{sign}{hours}h{minutes}m{tail}"
    if minutes:
        return f"{sign}{minutes}m{tail}"
    return f"{sign}{tail}"


def crowdsec_type(d: Decision) -> str:
    return d.action


class Fragment(NamedTuple):
    """A decision's cached JSON tail (everything after the duration) and match keys.

    A named tuple: a cold ``startup=true`` pull makes 100,000 of them.
    """

    id: int
    tail: str
    expires_at: float
    value: str  # the normalised target
    scope: str  # lower case: ip / range
    type: str
    scenario: str
    simulated: bool
    applies_to: tuple[str, ...]
    version: int
    first: int
    last: int


@functools.lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    """``text`` as a JSON string (scenarios and types repeat: kept)."""
    return json.dumps(text)


def fragment(d: Decision) -> Fragment:
    """``ValueError`` when the decision's target is not canonical (it is never served)."""
    t = canonical(d.target)
    kind = crowdsec_type(d)
    tail = (
        f'","id":{d.id},"origin":"{ORIGIN}","scenario":{_quoted(d.scenario)},'
        f'"scope":"{SCOPES[t.scope]}","simulated":{"true" if d.recommended else "false"},'
        f'"type":{_quoted(kind)},"uuid":"{decision_uuid(d.id)}","value":"{t.text}"}}'
    )
    return Fragment(
        d.id,
        tail,
        d.expires_at,
        t.text,
        t.scope,
        kind,
        d.scenario,
        d.recommended,
        d.applies_to,
        t.version,
        t.first,
        t.last,
    )


def as_dict(d: Decision, now: float) -> dict[str, object]:
    """One decision as a plain dict (the same fields the cached JSON carries)."""
    result: dict[str, object] = json.loads(render([fragment(d)], now) or "null")[0]
    return result


class FragmentCache:
    """Fragments by decision id.

    Given every active decision (``complete``), it learns the size of the live set
    and drops what is no longer in it; :attr:`overgrown` says when it holds so many
    more that such a call is due.
    """

    def __init__(self) -> None:
        self._items: dict[int, Fragment] = {}
        self._live = 0

    def get(self, decisions: Sequence[Decision], *, complete: bool = False) -> list[Fragment]:
        items = self._items
        out: list[Fragment] = []
        for d in decisions:
            f = items.get(d.id)
            if f is None:
                try:
                    f = items[d.id] = fragment(d)
                except ValueError:
                    continue  # not canonical: never served (the hub quarantines such rows)
            out.append(f)
        if complete:
            self._live = len(out)
            if len(items) > len(out) + 10_000:
                self._items = {f.id: f for f in out}
        return out

    @property
    def overgrown(self) -> bool:
        return len(self._items) > 2 * self._live + 50_000

    def __len__(self) -> int:
        return len(self._items)


def render(frags: Iterable[Fragment], now: float, *, until: dict[int, float] | None = None) -> str:
    """A JSON array of decisions (``""`` when empty, so the caller can write ``null``)."""
    parts = []
    for f in frags:
        end = f.expires_at if until is None else until.get(f.id, f.expires_at)
        parts.append('{"duration":"' + go_duration(end - now) + f.tail)
    return "[" + ",".join(parts) + "]" if parts else ""


def revoked_decision(rev: Revocation, found: Decision | None) -> Decision:
    """The decision a revocation withdrew (rebuilt from the revocation if unknown)."""
    if found is not None:
        return found
    scope: Scope = "range" if "/" in rev.target else "ip"
    return Decision(rev.decision_id, rev.target, scope, "ban", "", rev.clause, (), rev.at, rev.at)
