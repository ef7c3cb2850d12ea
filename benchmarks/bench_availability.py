"""The hub under hostile clients: does it keep answering?

A real ``shieldwall hub serve`` process holding ~10,000 stream events (restarted
after they were recorded, so replays read the store) takes at once:

- 200 decision streams resuming from ``Last-Event-ID: 0`` (50 members, 4 streams
  each, the most a member may hold), each reading every event;
- 1,000 clients that never finish their request headers (they trickle a byte every
  2 s and reconnect as soon as the hub drops them);

while a prober asks ``/healthz`` every 20 ms over a fresh connection. Figures: the
probe latency (p50, p99, max), probes that failed, how long the replay storm took,
how many slow clients the hub cut off, and the hub's peak RSS.

Each kind of client runs in its own process, so none of them slows the prober.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import resource
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_hub import _enrol, _percentile, open_enrolment
from shieldwall.client import HubClient
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.signing import SigningKey

EVENTS = 10_000
STREAMERS = 50
STREAMS_EACH = 4
SLOW = 1_000
PROBE_EVERY = 0.02
BATCH = 500


def _raise_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _seed(url: str, token: str, events: int) -> int:
    """Two members report the same targets until the hub holds ``events`` events."""
    keys = _enrol(url, token, ["seed-a", "seed-b"], "100.70")
    clients = [HubClient(url, name=n, key=k, timeout=120) for n, k in keys.items()]
    last = 0
    i = 0
    try:
        while last < events:
            now = time.time()
            targets = [f"198.18.{(i + j) // 250 % 250}.{(i + j) % 250 + 1}" for j in range(BATCH)]
            i += BATCH
            for client in clients:
                client.submit(
                    [{"target": t, "scenario": "ssh-bruteforce", "at": now} for t in targets]
                )
            last = int(clients[0].get("/healthz")["last_event_id"])
    finally:
        for client in clients:
            client.close()
    return last


# -- the prober --------------------------------------------------------------------------


def _probe_once(port: int) -> float | None:
    started = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
    except OSError:
        return None
    if not reply.startswith(b"HTTP/1.1 200"):
        return None
    return time.perf_counter() - started


def _prober(port: int, stop_flag: Any, out: Any) -> None:
    latencies: list[float] = []
    failed = 0
    while not stop_flag.is_set():
        took = _probe_once(port)
        if took is None:
            failed += 1
        else:
            latencies.append(took)
        time.sleep(PROBE_EVERY)
    out.put((latencies, failed))


# -- slow-header clients -----------------------------------------------------------------


async def _slow_client(port: int, stop_flag: Any, counts: dict[str, int]) -> None:
    while not stop_flag.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        counts["open"] += 1
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            while not stop_flag.is_set():
                try:
                    reply = await asyncio.wait_for(reader.read(4096), 2.0)
                except TimeoutError:
                    writer.write(b"a")  # one more byte of a header that never ends
                    continue
                if reply.startswith(b"HTTP/1.1 408"):
                    counts["timed_out"] += 1
                break
        except OSError:
            pass
        finally:
            counts["open"] -= 1
            writer.close()


def _slow_clients(port: int, n: int, stop_flag: Any, out: Any) -> None:
    _raise_file_limit()
    counts = {"open": 0, "timed_out": 0, "refused": 0}

    async def main() -> None:
        tasks = [asyncio.create_task(_slow_client(port, stop_flag, counts)) for _ in range(n)]
        while counts["open"] < n and not stop_flag.is_set():
            await asyncio.sleep(0.05)
        out.put(("connected", counts["open"]))
        while not stop_flag.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    out.put(("done", counts["timed_out"], counts["refused"]))


# -- replaying subscribers ---------------------------------------------------------------


async def _replay(port: int, headers: dict[str, str], last: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Last-Event-ID: 0\r\n\r\n".encode()
    )
    marker = f"id: {last}\n".encode()
    tail = b""
    received = 0
    try:
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                raise RuntimeError(f"stream ended early: {tail[-300:]!r}")
            received += len(chunk)
            tail = tail[-64:] + chunk
            if marker in tail:
                return received
    finally:
        writer.close()


def _subscribers(port: int, members: list[tuple[str, str]], last: int, out: Any) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shieldwall.signing import KEY_PREFIX

    _raise_file_limit()
    url = f"http://127.0.0.1:{port}"
    stamps = []
    for name, private in members:
        raw = base64.b64decode(private[len(KEY_PREFIX) :])
        key = SigningKey(Ed25519PrivateKey.from_private_bytes(raw))
        with HubClient(url, name=name, key=key) as client:  # one client: distinct stamps
            stamps += [client.stream_headers() for _ in range(STREAMS_EACH)]

    async def main() -> tuple[float, int, list[str]]:
        started = time.perf_counter()
        got = await asyncio.gather(
            *(_replay(port, headers, last) for headers in stamps), return_exceptions=True
        )
        took = time.perf_counter() - started
        errors = [str(g) for g in got if isinstance(g, BaseException)]
        return took, sum(g for g in got if isinstance(g, int)), errors

    out.put(asyncio.run(main()))


def _result(queue: Any, proc: Any, timeout: float) -> Any:
    """What ``proc`` put on ``queue``; fails at once if it died without a word."""
    import queue as queues

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return queue.get(timeout=0.5)
        except queues.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{proc.name} exited with code {proc.exitcode}") from None
    raise RuntimeError(f"{proc.name} gave no result in {timeout:.0f}s")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def storm(
    data: Path, port: int, log: Path, members: list[tuple[str, str]], last: int
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    proc = start_hub(data, port, log)
    figures: dict[str, float] = {}
    stop_probe, stop_slow = ctx.Event(), ctx.Event()
    probe_out, slow_out, subs_out = ctx.Queue(), ctx.Queue(), ctx.Queue()
    prober = ctx.Process(target=_prober, args=(port, stop_probe, probe_out))
    slow = ctx.Process(target=_slow_clients, args=(port, SLOW, stop_slow, slow_out))
    subs = ctx.Process(target=_subscribers, args=(port, members, last, subs_out))
    try:
        figures["availability_hub_rss_idle_mb"] = _peak_rss_mb(proc.pid)
        slow.start()
        _, connected = _result(slow_out, slow, 120)
        figures["availability_slow_clients_connected"] = connected
        prober.start()
        subs.start()
        took, received, errors = _result(subs_out, subs, 600)
        if errors:
            raise RuntimeError(f"{len(errors)} replays failed, the first: {errors[0]}")
        figures["availability_replay_storm_s"] = round(took, 2)
        figures["availability_replayed_mb"] = round(received / 1e6, 1)
        # Keep the slow clients on a little longer: the hub must keep cutting them off.
        time.sleep(3)
        stop_probe.set()
        latencies, failed = _result(probe_out, prober, 60)
        stop_slow.set()
        _, timed_out, refused = _result(slow_out, slow, 60)
        figures["availability_slow_clients_cut_off"] = timed_out
        figures["availability_slow_clients_refused"] = refused
        figures["availability_probe_n"] = len(latencies)
        figures["availability_probe_failed"] = failed
        if latencies:
            figures["availability_probe_p50_ms"] = round(statistics.median(latencies) * 1000, 2)
            figures["availability_probe_p99_ms"] = round(_percentile(latencies, 0.99) * 1000, 2)
            figures["availability_probe_max_ms"] = round(max(latencies) * 1000, 2)
        figures["availability_hub_peak_rss_mb"] = _peak_rss_mb(proc.pid)
    finally:
        stop_probe.set()
        stop_slow.set()
        for p in (prober, slow, subs):
            p.join(30)
            if p.is_alive():
                p.kill()
        stop(proc)
    return figures


def run() -> dict[str, float]:
    limit = _raise_file_limit()
    if limit < SLOW + STREAMERS * STREAMS_EACH + 256:
        raise RuntimeError(
            f"open-file limit {limit} is too low for {SLOW} slow clients: raise ulimit -n"
        )
    with tempfile.TemporaryDirectory(prefix="sw-bench-avail-") as tmp:
        data = Path(tmp) / "hub"
        token = init_hub(data, template_text("nato"), "nato")
        open_enrolment(data)
        port = free_port()
        proc = start_hub(data, port, Path(tmp) / "seed.log")
        try:
            url = f"http://127.0.0.1:{port}"
            last = _seed(url, token, EVENTS)
            keys = _enrol(url, token, [f"streamer-{i}" for i in range(STREAMERS)], "100.71")
        finally:
            stop(proc)
        members = [(name, key.private_text()) for name, key in keys.items()]
        figures: dict[str, float] = {"availability_events": last}
        figures.update(storm(data, port, Path(tmp) / "hub.log", members, last))
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:<44} {value}")
