"""Read-only views of the alliance: consultations, ledger, treaty, disputes, health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from shieldwall import wire
from shieldwall.hub.members import sec_of


async def consultations(request: Request) -> JSONResponse:
    sec = sec_of(request)
    everything = request.query_params.get("all") in ("1", "true", "yes")
    found = sec.council.consultations(sec.clock(), open_only=not everything)
    return JSONResponse({"consultations": [wire.consultation(c) for c in found]})


async def ledger(request: Request) -> JSONResponse:
    sec = sec_of(request)
    return JSONResponse({"ledger": wire.record(sec.council.ledger(sec.clock()))})


async def reputation(request: Request) -> JSONResponse:
    sec = sec_of(request)
    return JSONResponse(
        {
            "reputation": {
                m.name: {"reputation": m.reputation, "status": m.status, "probation": m.probation}
                for m in sec.council.members()
            }
        }
    )


async def treaty(request: Request) -> JSONResponse:
    sec = sec_of(request)
    t = sec.treaty
    return JSONResponse({"name": t.name, "version": t.version, "digest": t.digest, "text": t.text})


async def disputes(request: Request) -> JSONResponse:
    return JSONResponse({"disputes": sec_of(request).store.disputes()})


async def healthz(request: Request) -> JSONResponse:
    sec = sec_of(request)
    body: dict[str, object] = {
        "status": "ok",
        "treaty": sec.treaty.name,
        "treaty_digest": sec.treaty.digest,
        "members": len(sec.identities),
        "last_event_id": sec.stream.last_id,
        "schema_version": sec.store.schema_version,
    }
    status = 200
    if sec.replication is not None:
        bus = sec.replication.status()
        body["bus"] = bus
        if bus["state"] in ("halted", "stopped"):
            # A replica that stopped applying serves stale state: take it out of rotation.
            body["status"], status = bus["state"], 503
    return JSONResponse(body, status_code=status)


async def metrics(request: Request) -> PlainTextResponse:
    sec = sec_of(request)
    st = sec.stats
    now = sec.clock()
    lines = [
        "# HELP shieldwall_signals_accepted_total Signals accepted from members.",
        "# TYPE shieldwall_signals_accepted_total counter",
        f"shieldwall_signals_accepted_total {st.signals_accepted}",
        "# HELP shieldwall_batches_accepted_total Signed signal batches accepted.",
        "# TYPE shieldwall_batches_accepted_total counter",
        f"shieldwall_batches_accepted_total {st.batches_accepted}",
        "# HELP shieldwall_batches_refused_total Signal batches refused, by reason.",
        "# TYPE shieldwall_batches_refused_total counter",
    ]
    lines += [
        f'shieldwall_batches_refused_total{{reason="{code}"}} {n}'
        for code, n in sorted(st.batches_refused.items())
    ]
    lines += [
        "# HELP shieldwall_decisions_issued_total Decisions issued since start.",
        "# TYPE shieldwall_decisions_issued_total counter",
        f"shieldwall_decisions_issued_total {st.decisions_issued}",
        "# HELP shieldwall_revocations_total Decisions revoked since start.",
        "# TYPE shieldwall_revocations_total counter",
        f"shieldwall_revocations_total {st.revocations}",
        "# HELP shieldwall_disputes_total Reports against protected assets since start.",
        "# TYPE shieldwall_disputes_total counter",
        f"shieldwall_disputes_total {st.disputes}",
        "# HELP shieldwall_consultations_opened_total Consultations opened since start.",
        "# TYPE shieldwall_consultations_opened_total counter",
        f"shieldwall_consultations_opened_total {st.consultations_opened}",
        "# HELP shieldwall_decisions_active Decisions in force now.",
        "# TYPE shieldwall_decisions_active gauge",
        f"shieldwall_decisions_active {len(sec.active(now))}",
        "# HELP shieldwall_stream_subscribers Members connected to the decision stream.",
        "# TYPE shieldwall_stream_subscribers gauge",
        f"shieldwall_stream_subscribers {sec.stream.subscribers}",
        "# HELP shieldwall_members Members known to the hub.",
        "# TYPE shieldwall_members gauge",
        f"shieldwall_members {len(sec.identities)}",
    ]
    if sec.replication is not None:
        bus = sec.replication.status()
        seq = bus.get("published_input", bus.get("applied_input", 0))
        lines += [
            "# HELP shieldwall_bus_input The last input published (primary) or applied (replica).",
            "# TYPE shieldwall_bus_input gauge",
            f'shieldwall_bus_input{{role="{bus["role"]}"}} {seq}',
        ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


routes = [
    Route("/v1/consultations", consultations, methods=["GET"]),
    Route("/v1/ledger", ledger, methods=["GET"]),
    Route("/v1/reputation", reputation, methods=["GET"]),
    Route("/v1/treaty", treaty, methods=["GET"]),
    Route("/v1/disputes", disputes, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
