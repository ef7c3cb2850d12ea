"""A CrowdSec-compatible bouncer API, so stock remediation components enforce decisions.

``GET|HEAD /v1/decisions/stream`` and ``GET|HEAD /v1/decisions`` behave as in
CrowdSec's Local API: ``X-Api-Key`` per bouncer (403 ``{"message": "access
forbidden"}`` otherwise), ``null`` for empty lists, ``startup=true`` for the full set,
later pulls return what changed since that bouncer's previous pull.

Alliance specifics: ``watch`` decisions are never sent (nothing to enforce);
recommended decisions (consult-only treaties) are ``simulated`` and, as CrowdSec does
for simulated decisions, only sent when asked for with ``simulated=true``; a
decision that binds only some members (``applies_to``) reaches only bouncers
registered for one of them.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shieldwall.core.addresses import Network, bounds, parse_network
from shieldwall.core.model import Decision
from shieldwall.interop.crowdsec_format import (
    ORIGIN,
    Fragment,
    FragmentCache,
    render,
    revoked_decision,
)
from shieldwall.interop.keys import Bouncer, BouncerKeys
from shieldwall.interop.source import DecisionSource

Clock = Callable[[], float]
FORBIDDEN = {"message": "access forbidden"}
_MAX_QUERY = 2048


class BadQuery(ValueError):
    pass


def _words(request: Request, *names: str) -> tuple[str, ...]:
    """Comma-separated words of the first of ``names`` given, lower case."""
    name = next((n for n in names if n in request.query_params), names[0])
    raw = request.query_params.get(name, "")
    if len(raw) > _MAX_QUERY:
        raise BadQuery(f"{name} is longer than {_MAX_QUERY} characters: shorten it")
    return tuple(w.strip().lower() for w in raw.split(",") if w.strip())


_TRUE = ("1", "t", "true")
_FALSE = ("0", "f", "false")


def _flag(request: Request, name: str, default: bool) -> bool:
    """A boolean query parameter, read as Go's ``strconv.ParseBool`` reads it."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadQuery(f"{name} {raw[:40]!r} is not a boolean: give true or false")


@dataclass(frozen=True, slots=True)
class Filters:
    scopes: tuple[str, ...] = ("ip", "range")
    origins: tuple[str, ...] = ()
    containing: tuple[str, ...] = ()
    not_containing: tuple[str, ...] = ()
    simulated: bool = False
    member: str = ""

    @classmethod
    def of(cls, request: Request, bouncer: Bouncer, default_scopes: bool = True) -> Filters:
        scopes = _words(request, "scopes", "scope")  # CrowdSec takes either name
        if not scopes and default_scopes:
            scopes = ("ip", "range")
        return cls(
            scopes,
            _words(request, "origins"),
            _words(request, "scenarios_containing"),
            _words(request, "scenarios_not_containing"),
            _flag(request, "simulated", False),
            bouncer.member,
        )

    def keep(self, f: Fragment) -> bool:
        if f.type == "watch":
            return False
        if f.simulated and not self.simulated:
            return False
        if self.scopes and f.scope not in self.scopes:
            return False
        if self.origins and ORIGIN not in self.origins:
            return False
        if f.applies_to and self.member not in f.applies_to:
            return False
        scenario = f.scenario.lower()
        if self.containing and not any(w in scenario for w in self.containing):
            return False
        return not (self.not_containing and any(w in scenario for w in self.not_containing))

    @property
    def trivial(self) -> bool:
        return self.scopes == ("ip", "range") and not (
            self.origins or self.containing or self.not_containing or self.simulated
        )


def _json(body: str, status: int = 200) -> Response:
    return Response(body, status, media_type="application/json")


class CrowdSecAPI:
    def __init__(self, source: DecisionSource, keys: BouncerKeys, clock: Clock) -> None:
        self.source = source
        self.keys = keys
        self.clock = clock
        self.cache = FragmentCache()
        source.watch(self._prepare)

    def _prepare(self, decisions: Sequence[Decision]) -> None:
        """Build the JSON of new decisions as they are made, not at the next full pull."""
        self.cache.get(decisions)
        if self.cache.overgrown:
            self.cache.get(list(self.source.active(self.clock())), complete=True)

    def _bouncer(self, request: Request) -> Bouncer | None:
        key = request.headers.get("x-api-key", "")
        if not key or len(key) > 256:
            return None
        return self.keys.check(key)

    def _select(
        self, decisions: Iterable[Decision], filters: Filters, *, complete: bool = False
    ) -> list[Fragment]:
        """The fragments of ``decisions`` this bouncer may see (``complete``: all active)."""
        frags = self.cache.get(list(decisions), complete=complete)
        if filters.trivial and not filters.member:
            return [f for f in frags if f.type != "watch" and not f.simulated and not f.applies_to]
        return [f for f in frags if filters.keep(f)]

    async def stream(self, request: Request) -> Response:
        bouncer = self._bouncer(request)
        if bouncer is None:
            return JSONResponse(FORBIDDEN, 403)
        if request.method == "HEAD":
            return Response(b"", 200, media_type="application/json")
        try:
            filters = Filters.of(request, bouncer)
            startup = _flag(request, "startup", False)
        except BadQuery as exc:
            return JSONResponse({"message": str(exc)}, 400)
        now = self.clock()
        until: dict[int, float] = {}
        if startup or bouncer.last_seq < 0:
            seq = self.source.seq()
            new = longest(self._select(self.source.active(now), filters, complete=True))
            deleted: list[Fragment] = []
        else:
            ch = self.source.changes(bouncer.last_seq, bouncer.last_pull, now)
            seq = ch.seq
            new = self._select(ch.new, filters)
            gone = list(ch.expired)
            for rev in ch.revoked:
                d = revoked_decision(rev, self.source.decision(rev.decision_id))
                until[d.id] = min(d.expires_at, rev.at)
                gone.append(d)
            deleted = self._select(gone, filters)
            if new or deleted:
                new, deleted = self._settle(new, deleted, filters, now, until)
        self.keys.record_pull(bouncer.name, seq, now)
        body = (
            '{"deleted":'
            + (render(deleted, now, until=until) or "null")
            + ',"new":'
            + (render(new, now) or "null")
            + "}"
        )
        return _json(body)

    def _settle(
        self,
        new: list[Fragment],
        deleted: list[Fragment],
        filters: Filters,
        now: float,
        until: dict[int, float],
    ) -> tuple[list[Fragment], list[Fragment]]:
        """A delta as CrowdSec sends one: per value and type, only the longest decision.

        A new decision outlasted by one the bouncer already holds is left out, and so
        is the end of a decision while another on the same value and type goes on:
        the bouncer would otherwise drop an address that is still banned.
        """
        keys = {(f.value, f.type) for f in new} | {(f.value, f.type) for f in deleted}
        values = {value for value, _ in keys}
        live: dict[tuple[str, str], float] = {}
        for f in self._select(self.source.active_on(values, now), filters):
            key = (f.value, f.type)
            if key in keys and f.expires_at > live.get(key, -math.inf):
                live[key] = f.expires_at
        new = [f for f in longest(new) if f.expires_at >= live.get((f.value, f.type), -math.inf)]
        ended = [f for f in longest(deleted, until) if (f.value, f.type) not in live]
        return new, ended

    async def decisions(self, request: Request) -> Response:
        bouncer = self._bouncer(request)
        if bouncer is None:
            return JSONResponse(FORBIDDEN, 403)
        try:
            filters = Filters.of(request, bouncer, default_scopes=False)
            match = _address_query(request)
            wanted_type = request.query_params.get("type", "")
        except BadQuery as exc:
            return JSONResponse({"message": str(exc)}, 400)
        now = self.clock()
        frags = self._select(self.source.active(now), filters, complete=True)
        if wanted_type:
            frags = [f for f in frags if f.type == wanted_type]
        if match is not None:
            frags = [f for f in frags if match(f)]
        if request.method == "HEAD":
            return Response(b"", 200, media_type="application/json")
        return _json(render(frags, now) or "null")


def longest(frags: list[Fragment], until: dict[int, float] | None = None) -> list[Fragment]:
    """One fragment per (value, type), the one lasting longest, as CrowdSec's LAPI sends.

    ``until`` overrides the end of some (revoked decisions end when revoked).
    """
    if len({f.value for f in frags}) == len(frags):  # the usual case, and quick to see
        return frags
    end = until or {}
    best: dict[tuple[str, str], Fragment] = {}
    for f in frags:
        key = (f.value, f.type)
        held = best.get(key)
        if held is None or end.get(f.id, f.expires_at) > end.get(held.id, held.expires_at):
            best[key] = f
    keep = {f.id for f in best.values()}
    return [f for f in frags if f.id in keep]


def _address_query(request: Request) -> Callable[[Fragment], bool] | None:
    """The ``ip``/``range``/``value`` part of ``GET /v1/decisions`` as a predicate.

    As in CrowdSec: ``value`` matches a decision's value exactly; ``ip`` and
    ``range`` match decisions containing them (``contains=false``: inside them).
    Scopes are filtered by :class:`Filters`.
    """
    q = request.query_params
    value = q.get("value", "")
    target = q.get("ip", "") or q.get("range", "")
    contains = _flag(request, "contains", True)
    for given in (value, target):
        if len(given) > 64:
            raise BadQuery(f"value {given[:64]!r}… is too long: give one IP or CIDR range")
    if not target:
        return (lambda f: f.value == value) if value else None
    try:
        net = parse_network(target) if "/" not in target else _loose(target)
    except ValueError as exc:
        raise BadQuery(str(exc)) from None
    version, first, last = bounds(net)

    def inside(f: Fragment) -> bool:
        if f.version != version or (value and f.value != value):
            return False
        if contains:
            return f.first <= first and f.last >= last
        return f.first >= first and f.last <= last

    return inside


def _loose(text: str) -> Network:
    """A ``range=`` query as CrowdSec reads it: host bits may be set (``10.0.0.1/24``).

    The address is parsed (and folded) by :func:`parse_network`; a prefix written for an
    IPv4-mapped address counts 128 bits and is folded with it.
    """
    addr, _, plen = text.strip().partition("/")
    host = parse_network(addr)
    bits = 32 if host.version == 4 else 128
    length = int(plen) if plen.isascii() and plen.isdigit() and len(plen) <= 3 else -1
    if ":" in addr and host.version == 4:
        length -= 96
    if not 0 <= length <= bits:
        raise ValueError(f"range {text!r} has no valid prefix length: give one such as /24")
    return ipaddress.ip_network((host.network_address, length), strict=False)


def crowdsec_routes(
    source: DecisionSource, keys: BouncerKeys, clock: Clock = time.time
) -> list[Route]:
    """The bouncer API's routes, to mount at the hub's root (paths start with /v1).

    The JSON of every active decision is built here, once, and that of each new
    decision as it is made, so that the first ``startup=true`` pull costs no more
    than later ones.
    """
    api = CrowdSecAPI(source, keys, clock)
    api.cache.get(list(source.active(clock())), complete=True)
    return [
        Route("/v1/decisions/stream", api.stream, methods=["GET", "HEAD"]),
        Route("/v1/decisions", api.decisions, methods=["GET", "HEAD"]),
    ]
