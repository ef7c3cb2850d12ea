"""Detail views for the console: one decision, one member, and the figures the charts draw.

``/v1/decisions/{id}/detail``: target, action, clause and treaty version, who reported
and when, the ladder step, the remaining time, revocation and appeal.
``/v1/members/{name}/detail``: reputation, ledger, policy, its reports and the
decisions it contributed to (contribution over time).
``/v1/charts``: decisions and signals per hour, top scenarios, and contribution
against consumption per member.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shieldwall import wire
from shieldwall.hub import auth, validate
from shieldwall.hub.errors import ApiError
from shieldwall.hub.lookup import status
from shieldwall.hub.members import member_view, sec_of

RECENT = 200
CHART_SPAN = 86400.0  # the charts show the last 24 hours
CHART_BUCKET = 3600.0
CHART_ROWS = 100_000  # at most this many signals are counted per chart


async def decision_detail(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    decision_id = validate.decision_id(request.path_params["id"])
    d = sec.store.decision(decision_id)
    if d is None:
        raise ApiError(404, "not_found", f"no decision {decision_id}: see 'decisions list'")
    now = sec.clock()
    out = status(sec, d, now)
    reports = [
        s
        for s in sec.store.signals_on([d.target], RECENT)
        if s.member in d.members and s.at <= d.issued_at
    ]
    out["reports"] = [wire.record(s) for s in reversed(reports)]
    rungs = sec.treaty.ladder.rungs
    out["ladder"] = {
        "step": min(d.offence, len(rungs)),
        "steps": len(rungs),
        "rungs": [{"action": r.action, "duration_s": r.duration} for r in rungs],
    }
    return JSONResponse(out)


async def member_detail(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    name = request.path_params["name"]
    if sec.council.member(name) is None:
        raise ApiError(404, "unknown_member", f"no member named {name[:64]!r}: see 'members list'")
    now = sec.clock()
    ledger = next((e for e in sec.council.ledger(now) if e.member == name), None)
    decided = sec.store.decisions_by(name, RECENT)
    return JSONResponse(
        {
            "member": member_view(sec, name),
            "ledger": wire.record(ledger),
            "reports": [wire.record(s) for s in sec.store.signals_by(name, RECENT)],
            "decisions": [wire.decision(d, now) for d in decided],
            "now": now,
        }
    )


def _series(times: list[tuple[float, str]], start: float) -> list[int]:
    counts = [0] * int(CHART_SPAN // CHART_BUCKET)
    for at, _ in times:
        i = int((at - start) // CHART_BUCKET)
        if 0 <= i < len(counts):
            counts[i] += 1
    return counts


async def charts(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    now = sec.clock()
    start = (now // CHART_BUCKET + 1) * CHART_BUCKET - CHART_SPAN
    signals = sec.store.times_since("signals", start, CHART_ROWS)
    decisions = sec.store.times_since("decisions", start, CHART_ROWS)
    scenarios = Counter(s for _, s in signals)
    body: dict[str, Any] = {
        "now": now,
        "start": start,
        "bucket_s": CHART_BUCKET,
        "signals": _series(signals, start),
        "decisions": _series(decisions, start),
        "truncated": len(signals) >= CHART_ROWS,
        "scenarios": [{"scenario": s, "signals": n} for s, n in scenarios.most_common(8)],
        "burden": [
            {"member": e.member, "contribution": e.contribution, "consumption": e.consumption}
            for e in sec.council.ledger(now)
        ],
    }
    return JSONResponse(body)


routes = [
    Route("/v1/decisions/{id}/detail", decision_detail, methods=["GET"]),
    Route("/v1/members/{name}/detail", member_detail, methods=["GET"]),
    Route("/v1/charts", charts, methods=["GET"]),
]
