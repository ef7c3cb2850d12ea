"""A primary hub publishing to NATS JetStream and a read replica following it.

Measured with real processes on loopback, as ``bench_hub`` measures the hub alone:
signal ingest per second at the primary with the bus pump running; how fast a new
replica applies the primary's whole input log; and the delay from the deciding signal
accepted by the primary to its decision arriving at N members streaming from the
replica (p50 and p99).

Needs a server: ``SHIELDWALL_TEST_NATS=nats://HOST:4222`` (with JetStream). The
benchmark uses a stream of its own, deleted afterwards. Without the variable it
prints a note and reports nothing.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from benchmarks.bench_hub import SENDERS, _enrol, ingest, open_enrolment, stream_delay
from shieldwall.bus.jetstream import delete_stream
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import free_port, start_hub, stop

NATS_ENV = "SHIELDWALL_TEST_NATS"
SIZES = (100, 1000)
ROUNDS = 10


def _health(url: str) -> dict[str, object]:
    answer: dict[str, object] = httpx.get(url + "/healthz", timeout=10).json()
    return answer


def _applied(url: str) -> int:
    bus = _health(url)["bus"]
    assert isinstance(bus, dict)
    return int(bus.get("applied_input") or bus.get("published_input") or 0)


def _wait_caught_up(primary: str, replica: str, limit: float = 600.0) -> float:
    """Seconds until the replica has applied everything the primary recorded."""
    started = time.perf_counter()
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        bus = _health(primary)["bus"]
        assert isinstance(bus, dict)
        if _applied(replica) >= int(bus["recorded_input"]):  # type: ignore[call-overload]
            return time.perf_counter() - started
        time.sleep(0.05)
    raise RuntimeError("the replica did not catch up")


def run() -> dict[str, float]:
    server = os.environ.get(NATS_ENV, "")
    if not server:
        print(f"   skipped: {NATS_ENV} is not set (point it at a NATS server with JetStream)")
        return {}
    stream = f"swbench-{uuid.uuid4().hex[:8]}"
    bus = ("--bus", server, "--bus-stream", stream)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sw-bench-bus-") as tmp:
        data = Path(tmp) / "primary"
        token = init_hub(data, template_text("nato"), "nato")
        open_enrolment(data)
        port = free_port()
        primary = start_hub(data, port, Path(tmp) / "primary.log", extra=bus)
        url = f"http://127.0.0.1:{port}"
        replica = None
        try:
            senders = _enrol(url, token, [f"sender-{i}" for i in range(SENDERS)], "100.66")
            got = ingest(url, senders)
            figures["bus_primary_ingest_signals_per_s"] = got["hub_http_ingest_signals_per_s"]
            bus_state = _health(url)["bus"]
            assert isinstance(bus_state, dict)
            inputs = int(bus_state["recorded_input"])  # type: ignore[call-overload]
            rport = free_port()
            started = time.perf_counter()
            replica = start_hub(
                Path(tmp) / "replica",
                rport,
                Path(tmp) / "replica.log",
                extra=(*bus, "--primary", url),
                action="replica",
            )
            rurl = f"http://127.0.0.1:{rport}"
            _wait_caught_up(url, rurl)
            took = time.perf_counter() - started
            figures["bus_replica_catch_up_inputs"] = inputs
            figures["bus_replica_catch_up_s"] = round(took, 2)
            figures["bus_replica_catch_up_inputs_per_s"] = round(inputs / took, 1)
            figures["bus_replica_catch_up_signals_per_s"] = round(
                got["hub_http_ingest_signals"] / took, 1
            )
            figures.update(
                stream_delay(
                    url,
                    token,
                    SIZES,
                    ROUNDS,
                    stream_port=rport,
                    prefix="bus_replica_stream_delay",
                    # the replica must know the new members' keys before they stream
                    enrolled_hook=lambda: _wait_caught_up(url, rurl),
                )
            )
        finally:
            stop(replica)
            stop(primary)
            asyncio.run(delete_stream(server, stream))
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<44} {value}")
