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
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from benchmarks.bench_hub import SENDERS, _delay_run, _enrol, _percentile, ingest
from shieldwall.client import HubClient
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.signing import SigningKey

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
            figures.update(_stream_delays(url, rurl, rport, token))
        finally:
            stop(replica)
            stop(primary)
            asyncio.run(_drop(server, stream))
    return figures


def _stream_delays(url: str, rurl: str, rport: int, token: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    keys = _enrol(url, token, ["reporter-a", "reporter-b"], "100.64")
    reporters = [HubClient(url, name=n, key=k, timeout=30) for n, k in keys.items()]
    enrolled: dict[str, SigningKey] = {}
    try:
        for n in SIZES:
            missing = [f"reader-{i}" for i in range(len(enrolled), n)]
            enrolled.update(_enrol(url, token, missing, "100.65"))
            _wait_caught_up(url, rurl)  # the replica knows the new members' keys
            readers = {name: enrolled[name] for name in list(enrolled)[:n]}
            delays = asyncio.run(_delay_run(rurl, rport, readers, reporters, ROUNDS))
            figures[f"bus_replica_stream_delay_n{n}_p50_ms"] = round(
                statistics.median(delays) * 1000, 2
            )
            figures[f"bus_replica_stream_delay_n{n}_p99_ms"] = round(
                _percentile(delays, 0.99) * 1000, 2
            )
    finally:
        for client in reporters:
            client.close()
    return figures


async def _drop(server: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(server)
    with contextlib.suppress(NotFoundError):
        await nc.jetstream().delete_stream(stream)
    await nc.close()


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<44} {value}")
