"""The hub over real HTTP: signal ingest per second (batched, SQLite) and the delay
from an accepted signal to its decision arriving at N streaming members.

A real ``shieldwall hub serve`` process on loopback; senders are separate processes
(the machine has two cores, so senders and readers compete with the hub for them,
as they would on a small server).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from shieldwall.client import HubClient, next_seq
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.signing import (
    MEMBER_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SigningKey,
    request_message,
)

BATCH = 500
INGEST_SECONDS = 6.0
SENDERS = 2


def _hub(tmp: Path) -> tuple[str, str, Any]:
    data = tmp / "hub"
    token = init_hub(data, template_text("nato"), "nato")
    open_enrolment(data)
    port = free_port()
    proc = start_hub(data, port, tmp / "hub.log")
    return f"http://127.0.0.1:{port}", token, proc


def open_enrolment(data: Path) -> None:
    """The benchmarks enrol up to 1,000 members from one address: lift the hub's
    per-source join limit for them."""
    with open(data / "hub.toml", "a") as settings:
        settings.write("join_burst = 100000\n")


def _enrol(url: str, token: str, names: list[str], prefix: str) -> dict[str, SigningKey]:
    keys = {}
    with HubClient(url, admin_token=token, timeout=30) as admin:
        for i, name in enumerate(names):
            key = SigningKey.generate()
            with HubClient(url, name=name, key=key, timeout=30) as client:
                client.join([f"{prefix}.{i // 250}.{i % 250 + 1}"])
            admin.approve(name)
            keys[name] = key
    return keys


def _sender(url: str, name: str, private: str, seconds: float, out: Any) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shieldwall.signing import KEY_PREFIX

    key = SigningKey(
        Ed25519PrivateKey.from_private_bytes(base64.b64decode(private[len(KEY_PREFIX) :]))
    )
    accepted = 0
    i = 0
    with httpx.Client(base_url=url, timeout=30) as http:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            now = time.time()
            signals = [
                {
                    "target": f"198.18.{(i + j) // 250 % 250}.{(i + j) % 250 + 1}",
                    "scenario": "ssh-bruteforce",
                    "at": now,
                }
                for j in range(BATCH)
            ]
            i += BATCH
            body = json.dumps(
                {"member": name, "seq": next_seq(), "sent_at": now, "signals": signals},
                separators=(",", ":"),
            ).encode()
            r = http.post(
                "/v1/signals",
                content=body,
                headers={MEMBER_HEADER: name, SIGNATURE_HEADER: key.sign(body)},
            )
            r.raise_for_status()
            accepted += r.json()["accepted"]
    out.put(accepted)


def ingest(url: str, keys: dict[str, SigningKey]) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_sender, args=(url, name, key.private_text(), INGEST_SECONDS, out))
        for name, key in keys.items()
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    total = sum(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(30)
    elapsed = time.perf_counter() - started
    return {
        "hub_http_ingest_signals_per_s": round(total / elapsed, 1),
        "hub_http_ingest_signals": total,
    }


_TARGET = re.compile(rb'event: decision\ndata: \{"id":\d+,"target":"([^"]+)"')


async def _reader(
    port: int, name: str, key: SigningKey, arrivals: dict[str, list[float]], ready: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    stamp = f"{time.time():.3f}"
    signature = key.sign(request_message("GET", "/v1/stream", stamp))
    writer.write(
        (
            f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n{MEMBER_HEADER}: {name}\r\n"
            f"{TIMESTAMP_HEADER}: {stamp}\r\n{SIGNATURE_HEADER}: {signature}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    buffer = b""
    counted = False
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.perf_counter()
            buffer += chunk
            if not counted and b"shieldwall decision stream" in buffer:
                counted = True
                ready.append(1)
            last = 0
            for match in _TARGET.finditer(buffer):
                arrivals.setdefault(match.group(1).decode(), []).append(now)
                last = match.end()
            if last:
                buffer = buffer[last:]
            elif len(buffer) > 1 << 20:
                buffer = buffer[-4096:]
    finally:
        writer.close()


async def _delay_run(
    port: int, readers: dict[str, SigningKey], reporters: list[HubClient], rounds: int
) -> list[float]:
    arrivals: dict[str, list[float]] = {}
    ready: list[int] = []
    tasks = [asyncio.create_task(_reader(port, n, k, arrivals, ready)) for n, k in readers.items()]
    deadline = time.monotonic() + 60
    while len(ready) < len(readers) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if len(ready) < len(readers):
        raise RuntimeError(f"only {len(ready)} of {len(readers)} stream readers connected")
    delays: list[float] = []
    for r in range(rounds):
        target = f"198.19.{len(readers) % 250}.{r + 1}"
        reporters[0].submit([{"target": target, "scenario": "ssh-bruteforce", "at": time.time()}])

        t0 = await asyncio.to_thread(_decide, reporters[1], target)
        wait_until = time.monotonic() + 30
        while len(arrivals.get(target, [])) < len(readers) and time.monotonic() < wait_until:
            await asyncio.sleep(0.01)
        got = arrivals.get(target, [])
        if len(got) < len(readers):
            raise RuntimeError(
                f"{len(got)} of {len(readers)} members received decision for {target}"
            )
        delays.extend(t - t0 for t in got)
        await asyncio.sleep(0.2)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return delays


def _decide(reporter: HubClient, target: str) -> float:
    """The second, deciding report; returns when it was sent."""
    t0 = time.perf_counter()
    result = reporter.submit([{"target": target, "scenario": "ssh-bruteforce", "at": time.time()}])
    if not result["decisions"]:
        raise RuntimeError(f"no decision for {target}: {result}")
    return t0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stream_delay(
    url: str,
    token: str,
    sizes: tuple[int, ...] = (10, 100, 1000),
    rounds: int = 10,
    *,
    stream_port: int | None = None,
    prefix: str = "stream_delay",
    enrolled_hook: Callable[[], None] | None = None,
) -> dict[str, float]:
    """p50/p99 from the deciding signal accepted at ``url`` to N members' streams.

    The members stream from ``stream_port`` (default: the hub's own port; a replica's
    for the bus benchmark); ``enrolled_hook`` runs after each round of enrolment.
    """
    port = stream_port or int(url.rsplit(":", 1)[1])
    figures: dict[str, float] = {}
    reporters_keys = _enrol(url, token, ["reporter-a", "reporter-b"], "100.64")
    reporters = [HubClient(url, name=n, key=k, timeout=30) for n, k in reporters_keys.items()]
    enrolled: dict[str, SigningKey] = {}
    try:
        for n in sizes:
            missing = [f"reader-{i}" for i in range(len(enrolled), n)]
            enrolled.update(_enrol(url, token, missing, "100.65"))
            if enrolled_hook is not None:
                enrolled_hook()
            readers = {name: enrolled[name] for name in list(enrolled)[:n]}
            delays = asyncio.run(_delay_run(port, readers, reporters, rounds))
            figures[f"{prefix}_n{n}_p50_ms"] = round(statistics.median(delays) * 1000, 2)
            figures[f"{prefix}_n{n}_p99_ms"] = round(_percentile(delays, 0.99) * 1000, 2)
    finally:
        for client in reporters:
            client.close()
    return figures


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sw-bench-hub-") as tmp:
        url, token, proc = _hub(Path(tmp))
        try:
            senders = _enrol(url, token, [f"sender-{i}" for i in range(SENDERS)], "100.66")
            figures = ingest(url, senders)
            figures.update(stream_delay(url, token))
        finally:
            stop(proc)
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<44} {value}")
