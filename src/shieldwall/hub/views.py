"""Read-only views of the alliance: consultations, ledger, treaty, disputes, health.

Every view but ``/healthz`` and ``/metrics`` is read as the treaty's ``[views]
access`` allows (:func:`shieldwall.hub.auth.reader`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from shieldwall import wire
from shieldwall.hub import auth, validate
from shieldwall.hub.amendments import history
from shieldwall.hub.members import sec_of


async def consultations(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    everything = validate.query_flag(request.query_params, "all")
    found = sec.council.consultations(sec.clock(), open_only=not everything)
    return JSONResponse({"consultations": [wire.consultation(c) for c in found]})


async def alerts(request: Request) -> JSONResponse:
    """The alerts in force (raised readiness): for members' detectors, never a ban.

    ``cursor`` is the stream's last event id, as for ``/v1/decisions``: an agent that
    resynchronises reads both and follows the stream from there.
    """
    sec = sec_of(request)
    auth.reader(sec, request)
    now = sec.clock()
    return JSONResponse(
        {
            "cursor": sec.stream.last_id,
            "now": now,
            "alerts": [wire.alert(a) for a in sec.council.alerts(now)],
        }
    )


async def ledger(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    return JSONResponse({"ledger": wire.record(sec.council.ledger(sec.clock()))})


async def reputation(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
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
    auth.reader(sec, request)
    t = sec.treaty
    return JSONResponse(
        {
            "name": t.name,
            "version": t.version,
            "digest": t.digest,
            "text": t.text,
            "history": history(sec.council.history),
        }
    )


async def disputes(request: Request) -> JSONResponse:
    sec = sec_of(request)
    auth.reader(sec, request)
    return JSONResponse({"disputes": sec.store.disputes()})


async def viewer(request: Request) -> JSONResponse:
    """Who the credentials sent make the caller, and what the treaty lets views be read by."""
    sec = sec_of(request)
    who = auth.reader(sec, request)
    role = "admin" if who == "secretariat" else who.partition(":")[0] if ":" in who else who
    if role not in ("admin", "viewer", "public"):
        role = "member"
    return JSONResponse({"who": who, "role": role, "access": sec.treaty.views.access})


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
    node = getattr(request.app.state, "leadership", None)
    if node is not None:  # one of several nodes on PostgreSQL: its role and lag
        state = node.status()
        body.update(role=state["role"], epoch=state["epoch"], node=state)
    else:
        body["role"] = "replica" if sec.replica_of is not None else "leader"
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
        "# HELP shieldwall_council_rebuilds_total Rebuilds after a commit failed mid-change.",
        "# TYPE shieldwall_council_rebuilds_total counter",
        f"shieldwall_council_rebuilds_total {st.council_rebuilds}",
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
    node = getattr(request.app.state, "leadership", None)
    if node is not None:
        state = node.status()
        lines += [
            "# HELP shieldwall_node_leader 1 if this hub node leads, 0 if it is a standby.",
            "# TYPE shieldwall_node_leader gauge",
            f"shieldwall_node_leader {int(state['role'] == 'leader')}",
            "# HELP shieldwall_node_epoch The fencing epoch this node leads under (0: standby).",
            "# TYPE shieldwall_node_epoch gauge",
            f"shieldwall_node_epoch {state['epoch']}",
            "# HELP shieldwall_node_applied_input The last recorded input this node applied.",
            "# TYPE shieldwall_node_applied_input gauge",
            f"shieldwall_node_applied_input {state['applied_input']}",
            "# HELP shieldwall_node_lag_inputs Recorded inputs a standby has yet to apply.",
            "# TYPE shieldwall_node_lag_inputs gauge",
            f"shieldwall_node_lag_inputs {state['lag_inputs']}",
            "# HELP shieldwall_node_lag_seconds How long a standby's oldest unapplied input waits.",
            "# TYPE shieldwall_node_lag_seconds gauge",
            f"shieldwall_node_lag_seconds {state['lag_seconds']}",
            "# HELP shieldwall_node_takeovers_total Times this node took the lease.",
            "# TYPE shieldwall_node_takeovers_total counter",
            f"shieldwall_node_takeovers_total {state['takeovers']}",
        ]
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


routes = [
    Route("/v1/consultations", consultations, methods=["GET"]),
    Route("/v1/alerts", alerts, methods=["GET"]),
    Route("/v1/ledger", ledger, methods=["GET"]),
    Route("/v1/reputation", reputation, methods=["GET"]),
    Route("/v1/treaty", treaty, methods=["GET"]),
    Route("/v1/disputes", disputes, methods=["GET"]),
    Route("/v1/viewer", viewer, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
