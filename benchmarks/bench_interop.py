"""CrowdSec bouncer API: ``startup=true`` latency with 100,000 active decisions.

Two set-ups. The bouncer API alone over an in-memory source (``crowdsec_*``), and
the real hub (``realhub_*``): a ``shieldwall hub serve`` process whose 100,000
decisions were made by the council, two members reporting the same targets in
batches of 5,000, pulled over loopback HTTP; then the same data directory opened
in-process (replay included) and pulled through ASGI. Reference: CrowdSec 1.4.6's
own Local API took 1.29 s for the same pull.
Run: ``python -m benchmarks.bench_interop``.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette

from shieldwall.client import HubClient
from shieldwall.core.model import Decision
from shieldwall.core.treaty import template_text
from shieldwall.hub.app import create_app, open_secretariat
from shieldwall.hub.setup import init_hub
from shieldwall.interop.crowdsec import crowdsec_routes
from shieldwall.interop.keys import MemoryBouncerKeys, SQLiteBouncerKeys, bouncers_path
from shieldwall.interop.mount import interop_routes
from shieldwall.interop.source import MemorySource
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.signing import SigningKey

N = 100_000
KEY = "bench-key-" + "0" * 32
ROUNDS = 5


BATCH = 5_000


def target(i: int) -> str:
    """The i-th benchmark target: addresses, and a /24 range every 50th."""
    if i % 50 == 0:
        j = i // 50  # distinct /24s up to 4,096 ranges
        return f"172.{16 + (j >> 8) % 16}.{j & 255}.0/24"
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def build(n: int = N) -> tuple[Starlette, float]:
    now = time.time()
    source = MemorySource()
    for i in range(n):
        target_ = target(i)
        source.add(
            Decision(
                i + 1,
                target_,
                "range" if "/" in target_ else "ip",
                "ban",
                "ssh-bruteforce",
                "art5.quorum",
                ("alpha", "bravo"),
                now - 60,
                now + 4 * 3600 + i % 3600,
            )
        )
    keys = MemoryBouncerKeys()
    keys.add("bench", KEY, now)
    return Starlette(routes=crowdsec_routes(source, keys)), now


async def _asgi_pulls(app: Starlette, rounds: int, n: int = N) -> list[float]:
    times = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        for _ in range(rounds):
            t = time.perf_counter()
            r = await c.get("/v1/decisions/stream?startup=true", headers={"X-Api-Key": KEY})
            r.raise_for_status()
            body = r.json()
            times.append(time.perf_counter() - t)
            if len(body["new"]) != n:
                raise RuntimeError(f"expected {n} decisions, got {len(body['new'])}")
    return times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_pulls(url: str, rounds: int) -> list[float]:
    """``startup=true`` pulls over HTTP; the last item is the body size in bytes."""
    times: list[float] = []
    size = 0
    with httpx.Client(base_url=url, timeout=60) as c:
        for _ in range(rounds):
            t = time.perf_counter()
            r = c.get("/v1/decisions/stream?startup=true", headers={"X-Api-Key": KEY})
            r.raise_for_status()
            size = len(r.content)
            times.append(time.perf_counter() - t)
    return [*times, size]


def _loopback_pulls(app: Starlette, rounds: int) -> list[float]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        return _http_pulls(f"http://127.0.0.1:{port}", rounds)
    finally:
        server.should_exit = True
        thread.join(10)


def _enrol(url: str, token: str) -> list[HubClient]:
    members = []
    with HubClient(url, admin_token=token, timeout=120) as admin:
        for name, address in (("alpha", "192.0.2.10"), ("bravo", "192.0.2.20")):
            client = HubClient(url, name=name, key=SigningKey.generate(), timeout=120)
            client.join([address])
            admin.approve(name)
            members.append(client)
    return members


def _report(members: list[HubClient], targets: list[str]) -> int:
    """Every member reports ``targets``; how many decisions that made."""
    at = time.time()
    batch = [{"target": t, "scenario": "ssh-bruteforce", "at": at} for t in targets]
    return sum(len(client.submit(batch)["decisions"]) for client in members)


def _council_decides(members: list[HubClient], n: int) -> float:
    """Two members report the same ``n`` targets in batches; seconds it took."""
    started = time.perf_counter()
    decided = 0
    for start in range(0, n, BATCH):
        decided += _report(members, [target(i) for i in range(start, min(n, start + BATCH))])
    if decided != n:
        raise RuntimeError(f"the council made {decided} decisions, expected {n}")
    return time.perf_counter() - started


def _delta_pulls(url: str, members: list[HubClient], rounds: int) -> tuple[float, float]:
    """Median seconds of a bouncer's delta pull with nothing new, and with one new decision."""
    empty, one = [], []
    with httpx.Client(base_url=url, timeout=60, headers={"X-Api-Key": KEY}) as c:
        c.get("/v1/decisions/stream").raise_for_status()
        for i in range(rounds):
            t = time.perf_counter()
            c.get("/v1/decisions/stream").raise_for_status()
            empty.append(time.perf_counter() - t)
            if _report(members, [f"198.18.0.{i + 1}"]) != 1:
                raise RuntimeError("expected one new decision")
            t = time.perf_counter()
            r = c.get("/v1/decisions/stream")
            one.append(time.perf_counter() - t)
            if len(r.json()["new"] or ()) != 1:
                raise RuntimeError(f"expected one new decision in the delta: {r.text[:200]}")
    return statistics.median(empty), statistics.median(one)


def real_hub(n: int = N, rounds: int = ROUNDS) -> dict[str, float]:
    """The real hub: decisions made by the council, pulled over loopback and in-process."""
    with tempfile.TemporaryDirectory(prefix="sw-bench-interop-") as tmp:
        data = Path(tmp) / "hub"
        token = init_hub(data, template_text("nato"), "nato")
        keys = SQLiteBouncerKeys(bouncers_path(data))
        keys.add("bench", KEY, time.time())
        keys.close()
        port = free_port()
        proc = start_hub(data, port, Path(tmp) / "hub.log")
        url = f"http://127.0.0.1:{port}"
        members = _enrol(url, token)
        try:
            decide_s = _council_decides(members, n)
            loop = _http_pulls(url, rounds)
            delta_empty, delta_one = _delta_pulls(url, members, rounds)
        finally:
            for client in members:
                client.close()
            stop(proc)
        size = loop.pop()
        started = time.perf_counter()
        sec = open_secretariat(data)
        replay_s = time.perf_counter() - started
        try:
            app = create_app(sec, extra_routes=interop_routes(sec, data), ticker=False)
            asgi = asyncio.run(_asgi_pulls(app, rounds, n + rounds))
        finally:
            sec.store.close()
    return {
        "realhub_council_100k_decisions_s": round(decide_s, 1),
        "realhub_startup_100k_http_first_s": round(loop[0], 3),
        "realhub_startup_100k_http_median_s": round(statistics.median(loop), 3),
        "realhub_startup_100k_http_max_s": round(max(loop), 3),
        "realhub_startup_100k_body_mb": round(size / 1e6, 2),
        "realhub_delta_nothing_new_http_median_s": round(delta_empty, 4),
        "realhub_delta_one_new_http_median_s": round(delta_one, 4),
        "realhub_replay_s": round(replay_s, 2),
        "realhub_startup_100k_asgi_first_s": round(asgi[0], 3),
        "realhub_startup_100k_asgi_median_s": round(statistics.median(asgi), 3),
    }


def run() -> dict[str, float]:
    app, _ = build()
    asgi = asyncio.run(_asgi_pulls(app, ROUNDS))
    loop = _loopback_pulls(app, ROUNDS)
    size = loop.pop()
    return {
        "crowdsec_startup_100k_asgi_first_s": round(asgi[0], 3),
        "crowdsec_startup_100k_asgi_median_s": round(statistics.median(asgi), 3),
        "crowdsec_startup_100k_http_median_s": round(statistics.median(loop), 3),
        "crowdsec_startup_100k_http_max_s": round(max(loop), 3),
        "crowdsec_startup_100k_body_mb": round(size / 1e6, 2),
        **real_hub(),
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
