"""Hub nodes on PostgreSQL: failover time, and ingest with three nodes.

Three real ``shieldwall hub serve`` processes share one PostgreSQL schema (the default
lease of 3 s). Failover time is measured from the leader's ``kill -9`` to the first
signed batch a new leader accepts, sent by a member that is given every node's URL
and retries at once; the killed node is started again (a standby) before the next
kill. Ingest is ``bench_hub``'s (same senders, batches and duration), sent to the
leader, then to a standby, which forwards every batch to the leader.

Needs a server: ``SHIELDWALL_TEST_PG=postgresql://USER@HOST[:PORT]/DATABASE``.
"""

from __future__ import annotations

import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import pg
from benchmarks.bench_hub import SENDERS, _enrol, _percentile, ingest
from shieldwall.client import HubClient, HubError
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import free_port, start_hub, stop

KILLS = 20


class Node:
    def __init__(self, data: Path, log: Path) -> None:
        self.data, self.log, self.port = data, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: Any = None

    def start(self) -> None:
        self.proc = start_hub(self.data, self.port, self.log)

    def role(self) -> tuple[str, int]:
        try:
            seen = httpx.get(self.url + "/healthz", timeout=1).json()
        except (httpx.HTTPError, ValueError):
            return "down", 0
        return str(seen.get("role")), int(seen.get("epoch", 0))


def _leader(nodes: list[Node], above: int = 0, limit: float = 60.0) -> tuple[Node, int]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for node in nodes:
            if node.proc is not None and node.proc.poll() is None:
                role, epoch = node.role()
                if role == "leader" and epoch > above:
                    return node, epoch
        time.sleep(0.02)
    raise RuntimeError(f"no node leads above epoch {above} after {limit:.0f} s")


def _accepted(client: HubClient, n: int, limit: float = 60.0) -> float:
    """Send one signed batch until a node accepts it; the time it was accepted."""
    signal_ = {"target": f"198.18.200.{n % 250 + 1}", "scenario": "port-scan", "at": 0.0}
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            client.submit([{**signal_, "at": time.time()}])
            return time.perf_counter()
        except HubError:
            time.sleep(0.01)
    raise RuntimeError(f"no node accepted a batch in {limit:.0f} s")


def failover(nodes: list[Node], client: HubClient, kills: int) -> dict[str, float]:
    times = []
    leader, epoch = _leader(nodes)
    for n in range(kills):
        _accepted(client, n)  # the alliance decides before the kill
        killed_at = time.perf_counter()
        leader.proc.send_signal(signal.SIGKILL)
        leader.proc.wait(10)
        times.append(_accepted(client, n + 1000) - killed_at)
        killed = leader
        leader, epoch = _leader(nodes, above=epoch)
        killed.start()  # back as a standby
    return {
        "failover_kills": kills,
        "failover_p50_s": round(statistics.median(times), 3),
        "failover_p99_s": round(_percentile(times, 0.99), 3),
        "failover_max_s": round(max(times), 3),
    }


def run() -> dict[str, float]:
    server = pg.server()
    if not server:
        return {}
    nodes: list[Node] = []
    with (
        pg.scratch_schema(server, prefix="sw_bench") as url,
        tempfile.TemporaryDirectory(prefix="sw-bench-failover-") as tmp,
    ):
        root = Path(tmp)
        token = init_hub(
            root / "node0",
            template_text("nato"),
            "nato",
            store=url,
        )
        for i in range(3):
            if i:
                shutil.copytree(root / "node0", root / f"node{i}")
            nodes.append(Node(root / f"node{i}", root / f"node{i}.log"))
        for node in nodes:
            node.start()
        try:
            leader, _ = _leader(nodes)
            standby = next(n for n in nodes if n is not leader)
            senders = _enrol(leader.url, token, [f"sender-{i}" for i in range(SENDERS)], "100.66")
            figures: dict[str, float] = {}
            to_leader = ingest(leader.url, senders)
            figures["three_nodes_ingest_leader_signals_per_s"] = to_leader[
                "hub_http_ingest_signals_per_s"
            ]
            through = ingest(standby.url, senders)
            figures["three_nodes_ingest_via_standby_signals_per_s"] = through[
                "hub_http_ingest_signals_per_s"
            ]
            urls = ",".join(n.url for n in nodes)
            (name, key), *_ = _enrol(leader.url, token, ["prober"], "100.67").items()
            with HubClient(urls, name=name, key=key, timeout=2) as client:
                figures.update(failover(nodes, client, KILLS))
        finally:
            for node in nodes:
                stop(node.proc)
    return figures


if __name__ == "__main__":
    for figure, value in run().items():
        print(f"{figure:<48} {value}")
